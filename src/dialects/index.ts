/* eslint-disable @typescript-eslint/no-require-imports */
import type { Dialect } from './dialect';
import { parseConnectionUrl } from './url';

export type { Dialect } from './dialect';

/**
 * The dialect for a connection URL (postgres://, mysql://, mariadb://, pglite:). Connects lazily.
 * Each dialect's module (and its driver) is loaded only when used: a CLI run pays for one engine, not three.
 */
export function createDialect(url: string | undefined, options: { lockTimeoutMs: number }): Dialect {
  const target = parseConnectionUrl(url);
  switch (target.engine) {
    case 'postgres': {
      const { PostgresDialect } = require('./postgres') as typeof import('./postgres');
      return PostgresDialect.fromUrl(target.url, options);
    }
    case 'mysql': {
      const { MysqlDialect } = require('./mysql') as typeof import('./mysql');
      return MysqlDialect.fromUrl(target.url, target.database, options);
    }
    case 'pglite': {
      const { PgliteDialect } = require('./pglite') as typeof import('./pglite');
      return new PgliteDialect(target.dataDir);
    }
  }
}
