/* eslint-disable @typescript-eslint/no-require-imports -- knex's PostgreSQL client has no typed export */
import type { Knex } from 'knex';
import { positionMarks } from '../bound-sql';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base takes any constructor arguments
type PgClientClass = new (...args: any[]) => { positionBindings(sql: string): string };

/**
 * knex's PostgreSQL client, or one built on it (PGlite's), reading a
 * statement's question marks as zmigrate writes them (positionMarks in
 * bound-sql.ts). knex's own drops every backslash before a `?`, so no
 * statement could hold a `\?`: a regular expression's `'\?'` in `up`, in raw
 * SQL or in a function's body reached the server as `'?'`.
 */
export function readingZmigrateMarks<T extends PgClientClass>(Base: T): T {
  return class extends Base {
    override positionBindings(sql: string): string {
      let placeholders = 0;
      return positionMarks(sql, () => `$${++placeholders}`);
    }
  };
}

let nodePostgres: typeof Knex.Client | undefined;

/** knex's client for node-postgres, reading marks as zmigrate writes them (one class, so a config can be told by it). */
export function pgClient(): typeof Knex.Client {
  nodePostgres ??= readingZmigrateMarks(require('knex/lib/dialects/postgres') as PgClientClass) as unknown as typeof Knex.Client;
  return nodePostgres;
}
