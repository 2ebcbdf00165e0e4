/**
 * Many catalog queries on a PGlite test database at the price of one open:
 * support/databases.ts opens the folder afresh for every query, which makes
 * inspect() slow. A session keeps the folder open while `work` runs, then
 * closes it, so that a zmigrate command can open the folder again. Elsewhere,
 * and inside a session already open, `work` gets the database as is.
 */
import type { Knex } from 'knex';
import type { TestDatabase } from '../support/databases';
import { pgliteRaw, withPglite } from '../support/pglite';

const open = new WeakSet<TestDatabase>();

export async function pgliteSession<T>(db: TestDatabase, work: (db: TestDatabase) => Promise<T>): Promise<T> {
  if (db.engine !== 'pglite' || open.has(db)) return work(db);
  return withPglite(db.url.replace(/^pglite:/, ''), (pglite) => {
    const session: TestDatabase = { ...db, knex: { raw: pgliteRaw(pglite) } as unknown as Knex };
    open.add(session);
    return work(session);
  });
}
