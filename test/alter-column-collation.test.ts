/**
 * alterColumn keeps a column's own collation (and on MySQL/MariaDB its
 * character set) on the new column, where the operation leaves the type a
 * string type and does not name a collation itself: a column added without
 * one would take the type's or the table's default, and compare, sort and
 * enforce its unique index differently. A type that names its own
 * collation gets that one.
 */
import { createTestDatabase, SERVER_ENGINES, type Engine, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli } from './support/cli';
import { rowsOf } from './support/apps';

describe.each(SERVER_ENGINES)('alterColumn and the collation of its column on %s', (engine: Engine) => {
  const pg = engine === 'postgres';
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    // Collations that tell 'b' from 'B', on a table whose default (MariaDB's utf8mb4_general_ci) does not.
    const own = pg ? 'COLLATE "C"' : 'CHARACTER SET latin1 COLLATE latin1_bin';
    await db.knex.raw(`CREATE TABLE people (id integer PRIMARY KEY, name varchar(40) ${own} NOT NULL, code varchar(10) ${own})`);
    await db.knex.raw('CREATE UNIQUE INDEX people_name_key ON people (name)');
    await db.knex.raw("INSERT INTO people (id, name, code) VALUES (1, 'b', 'x'), (2, 'B', 'y'), (3, 'a', 'z')");
  });

  afterEach(async () => {
    await db.drop();
  });

  async function collations(): Promise<Record<string, string>> {
    const found = rowsOf<Record<string, unknown>>(
      await db.knex.raw(
        pg
          ? `select a.attname as name, coalesce(c.collname, '') as collation from pg_attribute a
               left join pg_collation c on c.oid = a.attcollation and a.attcollation <> 100
              where a.attrelid = 'people'::regclass and a.attname in ('name', 'code')`
          : `select COLUMN_NAME as name, COLLATION_NAME as collation from information_schema.COLUMNS
              where TABLE_SCHEMA = database() and TABLE_NAME = 'people' and COLUMN_NAME in ('name', 'code')`,
      ),
    );
    return Object.fromEntries(found.map((r) => [String(r.name), String(r.collation)]));
  }

  test('the new column keeps the old one’s collation, unless the new type names its own', async () => {
    const named = pg ? 'varchar(20) COLLATE "POSIX"' : 'varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin';
    const dir = migrationsDir({
      '0001_widen.ts': migrationSource([
        "op.alterColumn('people', 'name', { type: 'varchar(80)', up: 'name', down: 'name' })",
        `op.alterColumn('people', 'code', { type: ${JSON.stringify(named)}, up: 'code', down: 'code' })`,
      ]),
    });
    const env = { ZMIGRATE_DATABASE_URL: db.url };
    // With the table's default collation, the new unique index would find 'b' and 'B' the same (MariaDB).
    const expand = await runCli(['expand', '--dir', dir], { env });
    expect(expand.stderr).not.toMatch(/error/);
    expect(expand.code).toBe(0);
    expect((await runCli(['contract', '--dir', dir], { env })).code).toBe(0);
    expect(await collations()).toEqual(pg ? { name: 'C', code: 'POSIX' } : { name: 'latin1_bin', code: 'utf8mb4_bin' });
    // Still told apart by the unique index, and sorted by the column's own rules (upper case first).
    await expect(db.knex('people').insert({ id: 4, name: 'b' })).rejects.toThrow(/people_name_key|Duplicate/);
    await db.knex('people').insert({ id: 5, name: 'A' });
    const sorted = rowsOf<{ name: string }>(await db.knex.raw('select name from people order by name')).map((r) => r.name);
    expect(sorted).toEqual(['A', 'B', 'a', 'b']);
  });
});
