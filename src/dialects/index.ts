import type { Dialect } from './dialect';
import { MysqlDialect } from './mysql';
import { PgliteDialect } from './pglite';
import { PostgresDialect } from './postgres';
import { parseConnectionUrl } from './url';

export type { Dialect } from './dialect';

/** The dialect for a connection URL (postgres://, mysql://, mariadb://, pglite:). Connects lazily. */
export function createDialect(url: string | undefined, options: { lockTimeoutMs: number }): Dialect {
  const target = parseConnectionUrl(url);
  switch (target.engine) {
    case 'postgres':
      return PostgresDialect.fromUrl(target.url, options);
    case 'mysql':
      return MysqlDialect.fromUrl(target.url, target.database, options);
    case 'pglite':
      return new PgliteDialect(target.dataDir);
  }
}
