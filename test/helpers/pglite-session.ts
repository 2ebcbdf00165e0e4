/**
 * Many catalog queries on a PGlite test database at the price of one open:
 * support/databases.ts opens the folder afresh for every query, which makes
 * inspect() slow. A session keeps the folder open while `work` runs, then
 * closes it, so that a zmigrate command can open the folder again. Elsewhere,
 * `work` gets the database as is.
 */
import type { Knex } from 'knex';
import type { TestDatabase } from '../support/databases';
import { pgliteRaw, withPglite } from '../support/pglite';

export async function pgliteSession<T>(db: TestDatabase, work: (db: TestDatabase) => Promise<T>): Promise<T> {
  if (db.engine !== 'pglite') return work(db);
  return withPglite(db.url.replace(/^pglite:/, ''), (pglite) => work({ ...db, knex: { raw: pgliteRaw(pglite) } as unknown as Knex }));
}
