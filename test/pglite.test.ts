/**
 * The embedded database: one process at a time may open a PGlite folder, so
 * a second zmigrate waits for the first instead of corrupting the data.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli } from './support/cli';

describe('PGlite folder', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pglite');
  });
  afterAll(async () => {
    await db.drop();
  });

  test('two runners at once: the second waits for the folder, nothing is applied twice', async () => {
    const dir = migrationsDir({
      '0001_counter.ts': migrationSource([
        "op.createTable('counter', { columns: { id: { type: 'integer', primaryKey: true } } })",
        "op.sql({ expand: 'INSERT INTO counter (id) VALUES (1)', rollback: 'DELETE FROM counter' })",
      ]),
    });
    const env = { ZMIGRATE_DATABASE_URL: db.url };
    const [a, b] = await Promise.all([runCli(['expand', '--dir', dir], { env }), runCli(['expand', '--dir', dir], { env })]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const outputs = [a.stdout, b.stdout].sort();
    expect(outputs[0]).toMatch(/^expanded 0001_counter/);
    expect(outputs[1]).toMatch(/^nothing to expand/);
    const { rows } = (await db.knex.raw('select count(*)::int as n from counter')) as unknown as { rows: Array<{ n: number }> };
    expect(rows[0].n).toBe(1);
    expect(existsSync(path.join(db.url.slice('pglite:'.length), 'zmigrate.lock'))).toBe(false);
  });
});
