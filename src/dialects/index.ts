import type { Dialect } from './dialect';
import { MysqlDialect } from './mysql';
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
    case 'pglite': {
      // Loaded only when used: the embedded engine is large.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { PgliteDialect } = require('./pglite') as typeof import('./pglite');
      return new PgliteDialect(target.dataDir);
    }
  }
}
