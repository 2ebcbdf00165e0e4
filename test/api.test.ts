/**
 * The programmatic API the CLI is built on: Migrator with a logger, typed
 * errors, and the version schema an app would use.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, Migrator, ValidationError, type Logger } from '../src';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, withMigrator } from './support/cli';
import { rowsOf } from './support/apps';

describe('Migrator options', () => {
  test.each([
    [{ batchSize: 0 }, /^batchSize must be a whole number ≥ 1$/],
    [{ jobs: 1.5 }, /^jobs must be a whole number ≥ 1$/],
    [{ batchTimeMs: 0 }, /^batchTimeMs must be a number > 0$/],
    [{ batchDelayMs: -1 }, /^batchDelayMs must be a number ≥ 0$/],
    [{ maxLagMs: Number.NaN }, /^maxLagMs must be a number ≥ 0$/],
    [{ lockTimeoutMs: '500' as unknown as number }, /^lockTimeoutMs must be a number ≥ 0$/],
  ])('%p out of range: a ConfigError (exit code 2) before anything connects', (option, message) => {
    let thrown: unknown;
    try {
      new Migrator({ url: 'postgres://postgres@127.0.0.1:1/none', ...option });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).message).toMatch(message);
    expect((thrown as ConfigError).exitCode).toBe(2);
  });
});

describe.each(SERVER_ENGINES)('Migrator on %s', (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await db.drop();
  });

  test('expand, write through the version schema, contract', async () => {
    const dir = migrationsDir({
      '0001_people.ts': migrationSource([
        "op.createTable('people', { columns: { id: { type: 'integer', primaryKey: true }, name: { type: 'varchar(40)', nullable: false } } })",
      ]),
      '0002_people_email.ts': migrationSource([
        "op.addColumn('people', 'email', { type: 'varchar(80)', nullable: true })",
        "op.dropTable('legacy')",
      ]),
    });
    await db.knex.raw(
      engine === 'postgres' ? 'create table legacy (id integer primary key)' : 'create table legacy (id integer primary key)',
    );
    const lines: string[] = [];
    const logger: Logger = { info: (m) => lines.push(m), step: (m) => lines.push(m), warn: (m) => lines.push(m) };
    const migrator = new Migrator({ url: db.url, dir, logger });
    try {
      expect(await migrator.expand()).toEqual(['0001_people', '0002_people_email']);
      expect(lines).toContain('create table people');
      const schema = await migrator.schema();
      expect(schema).toBe(`${db.base}_0002_people_email`);

      // The old app writes the base table without the new column; the new app writes the view with it.
      await db.knex('people').insert({ id: 1, name: 'old app' });
      const v2 = db.versionKnex(schema!);
      await v2('people').insert({ id: 2, name: 'new app', email: 'n@example.com' });
      expect(await v2('people').orderBy('id').select('id', 'name', 'email')).toEqual([
        { id: 1, name: 'old app', email: null },
        { id: 2, name: 'new app', email: 'n@example.com' },
      ]);
      // The new version no longer sees the dropped table; the old app still does.
      await expect(v2('legacy').select()).rejects.toThrow();
      expect(await db.knex('legacy').select()).toEqual([]);

      expect(await migrator.contract()).toEqual(['0001_people', '0002_people_email']);
      expect((await migrator.status()).map((s) => s.phase)).toEqual(['complete', 'complete']);
      expect(await v2('people').count({ n: '*' })).toEqual([{ n: expect.anything() }]);
      await expect(db.knex('legacy').select()).rejects.toThrow();
      expect(await migrator.contract()).toEqual([]);
    } finally {
      await migrator.close();
    }
  });

  test('an unknown table is a ValidationError and changes nothing', async () => {
    const dir = migrationsDir({
      '0001_bad.ts': migrationSource(["op.addColumn('no_such_table', 'x', { type: 'integer' })"]),
    });
    const fresh = await createTestDatabase(engine);
    const migrator = new Migrator({ url: fresh.url, dir });
    try {
      const error = await migrator.expand().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).message).toBe('0001_bad: unknown table "no_such_table"');
      expect((error as ValidationError).exitCode).toBe(2);
      const status = await migrator.status();
      expect(status.map((s) => [s.name, s.phase])).toEqual([['0001_bad', 'pending']]);
    } finally {
      await migrator.close();
      await fresh.drop();
    }
  });

  test('two locked calls at once on one Migrator: the second waits for the first (one session, where the runner lock is re-entrant), so each step runs once', async () => {
    const fresh = await createTestDatabase(engine);
    await fresh.knex.raw('CREATE TABLE hits (n integer)');
    const sleep = engine === 'postgres' ? 'SELECT pg_sleep(0.3)' : 'DO SLEEP(0.3)';
    const dir = migrationsDir({
      '0001_hit.ts': migrationSource([
        `op.sql({ expand: "${sleep}; INSERT INTO hits VALUES (1)", rollback: 'INSERT INTO hits VALUES (2)' })`,
      ]),
    });
    const migrator = new Migrator({ url: fresh.url, dir });
    try {
      await migrator.status();
      expect(await Promise.all([migrator.expand(), migrator.expand(), migrator.rollback()])).toEqual([['0001_hit'], [], '0001_hit']);
      // Expand's step once, then rollback's once.
      expect(rowsOf(await fresh.knex.raw('SELECT n FROM hits ORDER BY n'))).toEqual([{ n: 1 }, { n: 2 }]);
      expect((await migrator.status()).map((s) => s.phase)).toEqual(['rolled back']);
    } finally {
      await migrator.close();
      await fresh.drop();
    }
  });

  test('two first calls at once share one connection, which close() closes (the process could not exit)', async () => {
    const fresh = await createTestDatabase(engine);
    const dir = migrationsDir({ '0001_none.ts': migrationSource([]) });
    const migrator = new Migrator({ url: fresh.url, dir });
    try {
      await Promise.all([migrator.status(), migrator.status(), migrator.schema()]);
    } finally {
      await migrator.close();
    }
    const others =
      engine === 'postgres'
        ? 'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()'
        : 'SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()';
    try {
      let left: unknown;
      for (const deadline = Date.now() + 3000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
        left = Number(rowsOf(await fresh.knex.raw(others))[0].n);
        if (left === 0) break;
      }
      expect(left).toBe(0);
    } finally {
      await fresh.drop();
    }
  });

  test('raw SQL reaches the server as written: a ? is not a placeholder, several statements run in order', async () => {
    const fresh = await createTestDatabase(engine);
    const dir = migrationsDir({
      '0001_raw.ts': migrationSource([
        "op.sql({ expand: \"CREATE TABLE marks (id integer primary key, label varchar(10)); INSERT INTO marks (id, label) VALUES (1, 'why?'); INSERT INTO marks (id, label) VALUES (2, 'a;b')\", rollback: 'DROP TABLE marks' })",
      ]),
    });
    const migrator = new Migrator({ url: fresh.url, dir });
    try {
      await migrator.expand();
      expect(await fresh.knex('marks').orderBy('id').select('id', 'label')).toEqual([
        { id: 1, label: 'why?' },
        { id: 2, label: 'a;b' },
      ]);
    } finally {
      await migrator.close();
      await fresh.drop();
    }
  });
});

describe('raw SQL on PostgreSQL', () => {
  test('CREATE INDEX CONCURRENTLY in raw SQL runs outside a transaction block, with the statements around it', async () => {
    const db = await createTestDatabase('postgres');
    const dir = migrationsDir({
      '0001_raw.ts': migrationSource([
        "op.sql({ expand: 'CREATE TABLE marks (id integer primary key, label text); CREATE INDEX CONCURRENTLY marks_label_idx ON marks (label); INSERT INTO marks VALUES (1, $$a$$)', rollback: 'DROP TABLE marks' })",
      ]),
    });
    try {
      await withMigrator(db.url, dir, (migrator) => migrator.expand());
      // Inside a transaction block PostgreSQL refuses CONCURRENTLY; the index is there, valid, and the row after it too.
      const { rows } = (await db.knex.raw(
        "SELECT i.indisvalid AS valid, (SELECT count(*) FROM marks) AS n FROM pg_index i WHERE i.indexrelid = 'marks_label_idx'::regclass",
      )) as { rows: unknown[] };
      expect(rows).toEqual([{ valid: true, n: '1' }]);
    } finally {
      await db.drop();
    }
  });
});

describe('PostgreSQL base schemas', () => {
  test('two base schemas in one database keep separate state, locks and version schemas', async () => {
    const db = await createTestDatabase('postgres');
    try {
      await db.knex.raw('CREATE SCHEMA shop');
      const dir = migrationsDir({
        '0001_items.ts': migrationSource(["op.createTable('items', { columns: { id: { type: 'integer', primaryKey: true } } })"]),
      });
      const shopUrl = `${db.url}?schema=shop`;
      const main = new Migrator({ url: db.url, dir });
      const shop = new Migrator({ url: shopUrl, dir });
      try {
        expect(await main.expand()).toEqual(['0001_items']);
        expect((await shop.status()).map((s) => s.phase)).toEqual(['pending']);
        expect(await shop.expand()).toEqual(['0001_items']);
        expect(await shop.schema()).toBe('shop_0001_items');
        expect(await main.schema()).toBe('public_0001_items');
      } finally {
        await Promise.all([main.close(), shop.close()]);
      }
      const tables = await db.knex.raw(
        "SELECT table_schema AS s FROM information_schema.tables WHERE table_name = 'items' AND table_type = 'BASE TABLE' ORDER BY 1",
      );
      expect(tables.rows.map((r: { s: string }) => r.s)).toEqual(['public', 'shop']);
    } finally {
      await db.drop();
    }
  });

  test("raw SQL, custom phases and up find the base schema's tables by their bare names, and custom phases public's functions", async () => {
    const db = await createTestDatabase('postgres');
    try {
      await db.knex.raw('CREATE SCHEMA "Shop Floor"');
      for (const schema of ['public', '"Shop Floor"']) {
        await db.knex.raw(`CREATE TABLE ${schema}.items (id integer PRIMARY KEY, price integer)`);
        await db.knex.raw(`INSERT INTO ${schema}.items VALUES (1, 10)`);
      }
      await db.knex.raw('CREATE FUNCTION public.with_tax(p integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT p * 2 $$');
      const dir = migrationsDir({
        '0001_notes.ts': `import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  operations: [op.sql({ expand: 'ALTER TABLE items ADD COLUMN note text', rollback: 'ALTER TABLE items DROP COLUMN note' })],
  async expand({ knex }) {
    await knex.raw("UPDATE items SET note = 'seen ' || with_tax(price)");
  },
});
`,
        // up runs in the apps' sessions too, whose path may be a version schema alone: it names public's function fully.
        '0002_gross.ts': migrationSource([
          "op.addColumn('items', 'gross', { type: 'integer', nullable: true, up: 'public.with_tax(price)' })",
        ]),
      });
      const shop = new Migrator({ url: `${db.url}?schema=${encodeURIComponent('Shop Floor')}`, dir });
      try {
        expect(await shop.expand()).toEqual(['0001_notes', '0002_gross']);
      } finally {
        await shop.close();
      }
      expect(rowsOf(await db.knex.raw('SELECT note, gross FROM "Shop Floor".items'))).toEqual([{ note: 'seen 20', gross: 20 }]);
      const publicColumns = await db.knex.raw(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'items' ORDER BY ordinal_position",
      );
      expect(publicColumns.rows.map((r: { column_name: string }) => r.column_name)).toEqual(['id', 'price']);
    } finally {
      await db.drop();
    }
  });
});

describe('MySQL/MariaDB state on a latin1 database', () => {
  /** A test database whose default character set is latin1, as a server configured so makes every new one. */
  async function latin1Database(): Promise<TestDatabase> {
    const db = await createTestDatabase('mysql');
    await db.knex.raw(`ALTER DATABASE \`${db.base}\` CHARACTER SET latin1`);
    return db;
  }
  const ARROWS = migrationSource(
    ["op.sql({ expand: 'CREATE TABLE notes (id integer) /* orders → shipments 🚚 */', rollback: 'DROP TABLE notes' })"],
    'orders → shipments 🚚',
  );

  /** Character sets of the state tables' text columns. */
  async function stateCharsets(db: TestDatabase): Promise<unknown[]> {
    return rowsOf(
      await db.knex.raw(
        "SELECT DISTINCT CHARACTER_SET_NAME AS charset FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'zmigrate\\_%' AND CHARACTER_SET_NAME IS NOT NULL",
        [db.base],
      ),
    );
  }

  test('a description and SQL with characters latin1 cannot hold are kept (expand failed: "Incorrect string value")', async () => {
    const db = await latin1Database();
    try {
      const dir = migrationsDir({ '0001_notes.ts': ARROWS });
      const status = await withMigrator(db.url, dir, async (migrator) => {
        expect(await migrator.expand()).toEqual(['0001_notes']);
        return migrator.status();
      });
      expect(status.map((s) => [s.phase, s.description])).toEqual([['expanded', 'orders → shipments 🚚']]);
      expect(await stateCharsets(db)).toEqual([{ charset: 'utf8mb4' }]);
    } finally {
      await db.drop();
    }
  });

  test('state tables an older zmigrate made in latin1 are converted to utf8mb4 by the next run', async () => {
    const db = await latin1Database();
    try {
      const dir = migrationsDir({
        '0001_plain.ts': migrationSource(["op.createTable('plain', { columns: { id: { type: 'integer', primaryKey: true } } })"]),
      });
      await withMigrator(db.url, dir, (migrator) => migrator.expand());
      for (const table of ['zmigrate_migrations', 'zmigrate_steps'])
        await db.knex.raw(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET latin1`);
      writeFileSync(path.join(dir, '0002_notes.ts'), ARROWS);
      const status = await withMigrator(db.url, dir, async (migrator) => {
        expect(await migrator.expand()).toEqual(['0002_notes']);
        return migrator.status();
      });
      expect(status.map((s) => [s.name, s.phase, s.description])).toEqual([
        ['0001_plain', 'expanded', ''],
        ['0002_notes', 'expanded', 'orders → shipments 🚚'],
      ]);
      expect(await stateCharsets(db)).toEqual([{ charset: 'utf8mb4' }]);
    } finally {
      await db.drop();
    }
  });
});
