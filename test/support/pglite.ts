/**
 * PGlite test databases are read in the test's own process, while no zmigrate
 * command has the folder open: PGlite opens a data folder from one instance
 * at a time.
 */
import type { PGlite } from '@electric-sql/pglite';

/** Opens the data folder, runs `work`, and closes it again. */
export async function withPglite<T>(dir: string, work: (db: PGlite) => Promise<T>): Promise<T> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dir);
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

/** A knex-style `raw` over an open PGlite: `?` placeholders become `$1`, `$2`, …. */
export function pgliteRaw(db: PGlite): (sql: string, bindings?: unknown[]) => Promise<{ rows: unknown[] }> {
  return async (sql, bindings = []) => {
    let i = 0;
    const { rows } = await db.query(
      sql.replace(/\?/g, () => `$${++i}`),
      bindings,
    );
    return { rows };
  };
}
