/**
 * Every folder of migrations-examples/ is a migrations directory users copy
 * from; each one must work, through the CLI, on PostgreSQL and MariaDB (on
 * PGlite, whose CLI calls are slow, the demo runs seven of them, see
 * demo.test.ts, and lifecycle.test.ts takes it through expand, contract and
 * rollback):
 *
 *   - expand → status --json: all 'expanded' → contract → all 'complete',
 *     with what each example promises checked on the database (tables,
 *     columns, indexes, version-schema views; and the old
 *     app writing to the base tables and the new app through its version schema);
 *   - in a fresh database, expand → rollback (one per migration) leaves no
 *     trace: after rolling back the newest migration the database is as it was
 *     with only the older ones expanded, and at the end as it was before.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type Engine, type TestDatabase } from './databases';
import { migrationsDir, runCli, withMigrator, type CliResult } from './cli';
import { inspect, type Inspection } from './inspect';

const EXAMPLES_ROOT = path.resolve(__dirname, '..', '..', 'migrations-examples');

type Row = Record<string, unknown>;

/** Catalog listings come in the server's collation order; compare them sorted. */
const sorted = (names: string[]): string[] => [...names].sort();

/** Rows of a query on the database as an application connection sees it. */
async function query(db: TestDatabase, sql: string, bindings: unknown[] = [], knex = db.knex): Promise<Row[]> {
  const result = await knex.raw(sql, bindings as never);
  return db.engine === 'mysql' ? (result as [Row[]])[0] : (result as { rows: Row[] }).rows;
}

/** The column names of a view or table in a given schema (PostgreSQL) or database (MySQL). */
async function columnsOf(db: TestDatabase, schema: string, table: string): Promise<string[]> {
  const rows = await query(
    db,
    'select column_name as c from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position',
    [schema, table],
  );
  return rows.map((r) => String(r.c));
}

/** The new app: a connection whose search_path / default database is the version schema. */
function newApp(db: TestDatabase, schema: string) {
  const knex = db.versionKnex(schema);
  return (sql: string, bindings: unknown[] = []) => query(db, sql, bindings, knex);
}

/** The old app: a plain connection to the base schema / database. */
function oldApp(db: TestDatabase) {
  return (sql: string, bindings: unknown[] = []) => query(db, sql, bindings);
}

interface Ctx {
  db: TestDatabase;
  /** The version schema of a migration of this example: `${base}_${name}`. */
  schema(migration: string): string;
  state: Inspection;
}

interface Example {
  folder: string;
  migrations: string[];
  engines: Engine[];
  /** Checks after expand (both versions live). */
  expanded(ctx: Ctx): Promise<void>;
  /** Checks after contract. */
  complete(ctx: Ctx): Promise<void>;
}

const EXAMPLES: Example[] = [
  {
    folder: 'create-table',
    migrations: ['0001_create_orders'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema, state }) {
      const v = schema('0001_create_orders');
      expect(sorted(state.tables)).toEqual(['order_lines', 'orders']);
      expect(sorted(state.views(v))).toEqual(['order_lines', 'orders']);
      expect(await columnsOf(db, v, 'orders')).toEqual(['id', 'customer', 'amount', 'note']);
      expect(await columnsOf(db, v, 'order_lines')).toEqual(['order_id', 'line', 'product', 'quantity']);
      const app = newApp(db, v);
      await app("insert into orders (id, customer) values (1, 'alice')");
      await app("insert into order_lines (order_id, line, product) values (1, 1, 'pen'), (1, 2, 'ink')");
      // The composite primary key holds.
      await expect(app("insert into order_lines (order_id, line, product) values (1, 1, 'again')")).rejects.toThrow();
      const [order] = await oldApp(db)('select customer, amount, note from orders where id = 1');
      expect(order).toEqual({ customer: 'alice', amount: 0, note: null });
      const lines = await oldApp(db)('select line, quantity from order_lines where order_id = 1 order by line');
      expect(lines).toEqual([
        { line: 1, quantity: 1 },
        { line: 2, quantity: 1 },
      ]);
    },
    async complete({ db, schema, state }) {
      const v = schema('0001_create_orders');
      expect(sorted(state.tables)).toEqual(['order_lines', 'orders']);
      expect(state.columns('orders')).toEqual(['id', 'customer', 'amount', 'note']);
      expect(state.versionSchemas).toEqual([v]);
      expect(sorted(state.views(v))).toEqual(['order_lines', 'orders']);
      // The version schema still serves the new app after contract.
      const [{ n }] = await newApp(db, v)('select count(*) as n from order_lines');
      expect(Number(n)).toBe(2);
    },
  },
  {
    folder: 'add-column',
    migrations: ['0001_create_orders', '0002_add_priority'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema, state }) {
      const v1 = schema('0001_create_orders');
      const v2 = schema('0002_add_priority');
      expect(state.columns('orders')).toEqual(['id', 'customer', 'amount', 'priority', 'status']);
      // The old app does not see the new columns on MySQL/MariaDB (INVISIBLE); PostgreSQL has no invisible columns.
      expect(state.visibleColumns('orders')).toEqual(
        db.engine === 'mysql' ? ['id', 'customer', 'amount'] : ['id', 'customer', 'amount', 'priority', 'status'],
      );
      expect(state.versionSchemas).toEqual([v1, v2]);
      expect(await columnsOf(db, v1, 'orders')).toEqual(['id', 'customer', 'amount']);
      expect(await columnsOf(db, v2, 'orders')).toEqual(['id', 'customer', 'amount', 'priority', 'status']);
      const old = oldApp(db);
      const app = newApp(db, v2);
      await old("insert into orders (id, customer, amount) values (1, 'alice', 10)");
      await app("insert into orders (id, customer, amount, priority, status) values (2, 'bob', 20, 1, 'paid')");
      expect(await app('select id, priority, status from orders order by id')).toEqual(
        [
          { id: '1', priority: null, status: 'new' },
          { id: '2', priority: 1, status: 'paid' },
        ].map((r) => ({ ...r, id: db.engine === 'postgres' ? r.id : Number(r.id) })),
      );
      const [row] = await old('select * from orders where id = 2');
      if (db.engine === 'mysql') {
        // Old habits keep working: SELECT * and INSERT without a column list.
        expect(Object.keys(row)).toEqual(['id', 'customer', 'amount']);
        await old("insert into orders values (3, 'carol', 30)");
        expect(await app('select status from orders where id = 3')).toEqual([{ status: 'new' }]);
      } else {
        // What the README warns about: SELECT * on the base table shows the new columns.
        expect(Object.keys(row)).toEqual(['id', 'customer', 'amount', 'priority', 'status']);
      }
    },
    async complete({ db, schema, state }) {
      const v2 = schema('0002_add_priority');
      expect(state.columns('orders')).toEqual(['id', 'customer', 'amount', 'priority', 'status']);
      expect(state.visibleColumns('orders')).toEqual(['id', 'customer', 'amount', 'priority', 'status']);
      expect(state.versionSchemas).toEqual([v2]);
      expect(await columnsOf(db, v2, 'orders')).toEqual(['id', 'customer', 'amount', 'priority', 'status']);
      // The new app needs no redeploy after contract.
      expect(await newApp(db, v2)('select customer, status from orders where id = 2')).toEqual([{ customer: 'bob', status: 'paid' }]);
      const [row] = await oldApp(db)('select * from orders where id = 1');
      expect(Object.keys(row)).toEqual(['id', 'customer', 'amount', 'priority', 'status']);
    },
  },
  {
    folder: 'create-index',
    migrations: ['0001_create_orders', '0002_index_orders'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema, state }) {
      expect(state.indexes('orders')).toEqual(expect.arrayContaining(['orders_customer_idx', 'orders_external_ref_key']));
      expect(sorted(state.views(schema('0002_index_orders')))).toEqual(['orders']);
      const app = newApp(db, schema('0002_index_orders'));
      await app("insert into orders (id, customer, external_ref) values (1, 'alice', 'A-1')");
      await expect(oldApp(db)("insert into orders (id, customer, external_ref) values (2, 'bob', 'A-1')")).rejects.toThrow();
    },
    async complete({ state, schema }) {
      expect(state.indexes('orders')).toEqual(expect.arrayContaining(['orders_customer_idx', 'orders_external_ref_key']));
      expect(state.versionSchemas).toEqual([schema('0002_index_orders')]);
    },
  },
  {
    folder: 'drop-table',
    migrations: ['0001_create_tables', '0002_drop_legacy_notes'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema, state }) {
      // Still there for the old app; gone from the new version.
      expect(sorted(state.tables)).toEqual(['legacy_notes', 'orders']);
      expect(sorted(state.views(schema('0001_create_tables')))).toEqual(['legacy_notes', 'orders']);
      expect(sorted(state.views(schema('0002_drop_legacy_notes')))).toEqual(['orders']);
      await oldApp(db)("insert into legacy_notes (id, body) values (1, 'still written by v1')");
      await expect(newApp(db, schema('0002_drop_legacy_notes'))('select * from legacy_notes')).rejects.toThrow();
    },
    async complete({ state, schema }) {
      expect(sorted(state.tables)).toEqual(['orders']);
      expect(state.versionSchemas).toEqual([schema('0002_drop_legacy_notes')]);
      expect(sorted(state.views(schema('0002_drop_legacy_notes')))).toEqual(['orders']);
    },
  },
  {
    folder: 'rename-column',
    migrations: ['0001_create_orders', '0002_rename_customer'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema }) {
      const v = schema('0002_rename_customer');
      expect(await columnsOf(db, v, 'orders')).toEqual(['id', 'customer_name', 'amount']);
      expect(await columnsOf(db, schema('0001_create_orders'), 'orders')).toEqual(['id', 'customer', 'amount']);
      await oldApp(db)("insert into orders (id, customer) values (1, 'from v1')");
      await newApp(db, v)("insert into orders (id, customer_name) values (2, 'from v2')");
      expect(await newApp(db, v)('select id, customer_name from orders order by id')).toEqual([
        { id: expect.anything(), customer_name: 'from v1' },
        { id: expect.anything(), customer_name: 'from v2' },
      ]);
      expect((await oldApp(db)('select customer from orders where id = 2'))[0]).toEqual({ customer: 'from v2' });
    },
    async complete({ db, schema, state }) {
      expect(state.columns('orders')).toEqual(['id', 'customer_name', 'amount']);
      expect(state.triggers).toEqual([]);
      expect(await newApp(db, schema('0002_rename_customer'))('select customer_name from orders order by id')).toEqual([
        { customer_name: 'from v1' },
        { customer_name: 'from v2' },
      ]);
    },
  },
  {
    folder: 'alter-column',
    migrations: ['0001_create_orders', '0002_amount_in_cents'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema, state }) {
      const v = schema('0002_amount_in_cents');
      expect(await columnsOf(db, v, 'orders')).toEqual(['id', 'customer', 'amount']);
      expect(state.triggers).toHaveLength(db.engine === 'mysql' ? 2 : 1);
      await oldApp(db)("insert into orders (id, customer, amount) values (1, 'v1', 7)");
      await newApp(db, v)("insert into orders (id, customer, amount) values (2, 'v2', 1200)");
      expect((await newApp(db, v)('select amount from orders where id = 1'))[0]).toEqual({ amount: expect.anything() });
      expect(Number((await newApp(db, v)('select amount from orders where id = 1'))[0].amount)).toBe(700);
      expect(Number((await oldApp(db)('select amount from orders where id = 2'))[0].amount)).toBe(12);
    },
    async complete({ db, state }) {
      expect(state.columns('orders')).toEqual(['id', 'customer', 'amount']);
      expect(state.triggers).toEqual([]);
      const rows = await oldApp(db)('select id, amount from orders order by id');
      expect(rows.map((r) => Number(r.amount))).toEqual([700, 1200]);
    },
  },
  {
    folder: 'drop-column',
    migrations: ['0001_create_orders', '0002_drop_amount'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema, state }) {
      const v = schema('0002_drop_amount');
      expect(await columnsOf(db, v, 'orders')).toEqual(['id', 'customer']);
      expect(state.columns('orders')).toEqual(['id', 'customer', 'amount']);
      await oldApp(db)("insert into orders (id, customer, amount) values (1, 'v1', 5)");
      await newApp(db, v)("insert into orders (id, customer) values (2, 'v2')");
      expect((await oldApp(db)('select id, amount from orders order by id')).map((r) => Number(r.amount))).toEqual([5, 0]);
    },
    async complete({ state }) {
      expect(state.columns('orders')).toEqual(['id', 'customer']);
      expect(state.triggers).toEqual([]);
    },
  },
  {
    folder: 'set-not-null',
    migrations: ['0001_create_orders', '0002_add_note', '0003_note_not_null'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema }) {
      const v = schema('0003_note_not_null');
      expect(await columnsOf(db, v, 'orders')).toEqual(['id', 'customer', 'amount', 'note']);
      await oldApp(db)("insert into orders (id, customer) values (1, 'no note')");
      expect((await newApp(db, v)('select note from orders where id = 1'))[0]).toEqual({ note: '' });
    },
    async complete({ db }) {
      await expect(oldApp(db)("insert into orders (id, customer, note) values (2, 'x', null)")).rejects.toThrow();
    },
  },
  {
    folder: 'custom-email',
    migrations: ['0001_create_users', '0002_normalize_email'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema }) {
      const v = schema('0002_normalize_email');
      expect(await columnsOf(db, v, 'users')).toEqual(['id', 'email', 'email_normalized']);
      await oldApp(db)("insert into users (id, email) values (1, ' Mixed@Case.ORG ')");
    },
    async complete({ db, schema }) {
      // The job's last pass at contract normalised the row the old app wrote after expand.
      expect((await newApp(db, schema('0002_normalize_email'))('select email_normalized from users where id = 1'))[0]).toEqual({
        email_normalized: 'mixed@case.org',
      });
    },
  },
  {
    folder: 'split-name',
    migrations: ['0001_create_people', '0002_split_full_name'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema }) {
      const v = schema('0002_split_full_name');
      expect(await columnsOf(db, v, 'people')).toEqual(['id', 'full_name', 'first_name', 'last_name']);
      await oldApp(db)("insert into people (id, full_name) values (1, '  Ada   King Lovelace ')");
    },
    async complete({ db, schema }) {
      expect((await newApp(db, schema('0002_split_full_name'))('select first_name, last_name from people where id = 1'))[0]).toEqual({
        first_name: 'Ada',
        last_name: 'King Lovelace',
      });
    },
  },
  {
    folder: 'rename-table',
    migrations: ['0001_create_orders', '0002_rename_to_purchases'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema, state }) {
      // One physical table under its old name; v2 sees it as purchases.
      expect(sorted(state.tables)).toEqual(['orders']);
      expect(state.views(schema('0001_create_orders'))).toEqual(['orders']);
      expect(state.views(schema('0002_rename_to_purchases'))).toEqual(['purchases']);
      const app = newApp(db, schema('0002_rename_to_purchases'));
      await oldApp(db)("insert into orders (id, customer) values (1, 'from v1')");
      await app("insert into purchases (id, customer) values (2, 'from v2')");
      expect((await app('select customer from purchases order by id')).map((r) => r.customer)).toEqual(['from v1', 'from v2']);
      expect((await oldApp(db)('select customer from orders order by id')).map((r) => r.customer)).toEqual(['from v1', 'from v2']);
    },
    async complete({ db, schema, state }) {
      expect(sorted(state.tables)).toEqual(['purchases']);
      expect(state.views(schema('0002_rename_to_purchases'))).toEqual(['purchases']);
      const app = newApp(db, schema('0002_rename_to_purchases'));
      await app("insert into purchases (id, customer) values (3, 'after contract')");
      expect((await app('select id from purchases order by id')).map((r) => Number(r.id))).toEqual([1, 2, 3]);
    },
  },
  {
    folder: 'drop-index',
    migrations: ['0001_create_orders', '0002_drop_customer_index'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema, state }) {
      // Still there for v1.
      expect(state.indexes('orders')).toContain('orders_customer_idx');
      await oldApp(db)("insert into orders (id, customer) values (1, 'v1')");
      await newApp(db, schema('0002_drop_customer_index'))("insert into orders (id, customer) values (2, 'v2')");
    },
    async complete({ db, state }) {
      expect(state.indexes('orders')).not.toContain('orders_customer_idx');
      expect(await query(db, 'select count(*) as n from orders')).toEqual([{ n: db.engine === 'postgres' ? '2' : 2 }]);
    },
  },
  {
    folder: 'add-unique',
    migrations: ['0001_create_users', '0002_unique_email'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema, state }) {
      expect(state.indexes('users')).toContain('users_email_key');
      await newApp(db, schema('0002_unique_email'))("insert into users (id, email) values (1, 'a@example.com')");
      await expect(oldApp(db)("insert into users (id, email) values (2, 'a@example.com')")).rejects.toThrow();
    },
    async complete({ db, state }) {
      expect(state.indexes('users')).toContain('users_email_key');
      if (db.engine === 'postgres') {
        expect(await query(db, "select contype from pg_constraint where conname = 'users_email_key'")).toEqual([{ contype: 'u' }]);
      }
      await expect(oldApp(db)("insert into users (id, email) values (3, 'a@example.com')")).rejects.toThrow();
    },
  },
  {
    folder: 'add-foreign-key',
    migrations: ['0001_create_tables', '0002_orders_customer_fk'],
    engines: ['postgres', 'mysql'],
    async expanded({ db, schema }) {
      await oldApp(db)("insert into customers (id, name) values (1, 'alice')");
      await newApp(db, schema('0002_orders_customer_fk'))('insert into orders (id, customer_id, amount) values (1, 1, 10)');
      // Enforced for new writes from expand on.
      await expect(oldApp(db)('insert into orders (id, customer_id, amount) values (2, 99, 10)')).rejects.toThrow();
    },
    async complete({ db }) {
      if (db.engine === 'postgres') {
        expect(await query(db, "select convalidated from pg_constraint where conname = 'orders_customer_fk'")).toEqual([
          { convalidated: true },
        ]);
      }
      await oldApp(db)('delete from customers where id = 1');
      expect(await query(db, 'select id from orders')).toEqual([]); // on delete cascade
    },
  },
  {
    folder: 'add-check',
    migrations: ['0001_create_orders', '0002_amount_not_negative'],
    engines: ['postgres', 'mysql'], // MariaDB: by an online rebuild of the table
    async expanded({ db, schema }) {
      if (db.engine === 'postgres') {
        expect(await query(db, "select convalidated from pg_constraint where conname = 'orders_amount_not_negative'")).toEqual([
          { convalidated: false },
        ]);
      } else {
        expect(
          await query(
            db,
            "select constraint_name as name from information_schema.check_constraints where constraint_schema = database() and table_name = 'orders'",
          ),
        ).toEqual([{ name: 'orders_amount_not_negative' }]);
      }
      await newApp(db, schema('0002_amount_not_negative'))('insert into orders (id, amount) values (1, 5)');
      await expect(oldApp(db)('insert into orders (id, amount) values (2, -1)')).rejects.toThrow();
    },
    async complete({ db }) {
      if (db.engine === 'postgres') {
        expect(await query(db, "select convalidated from pg_constraint where conname = 'orders_amount_not_negative'")).toEqual([
          { convalidated: true },
        ]);
      }
      await expect(oldApp(db)('insert into orders (id, amount) values (3, -1)')).rejects.toThrow();
    },
  },
  {
    folder: 'raw-sql',
    migrations: ['0001_create_orders', '0002_order_statuses'],
    engines: ['postgres', 'mysql'], // on PGlite too, through the demo (test/demo.test.ts)
    async expanded({ db, schema, state }) {
      expect(sorted(state.tables)).toEqual(['order_statuses', 'orders']);
      // What raw SQL creates appears in the new version schema only.
      expect(sorted(state.views(schema('0001_create_orders')))).toEqual(['orders']);
      expect(sorted(state.views(schema('0002_order_statuses')))).toEqual(['order_statuses', 'orders']);
      expect(await query(db, 'select code from order_statuses order by code')).toEqual([{ code: 'new' }, { code: 'paid' }]);
    },
    async complete({ db, schema, state }) {
      expect(sorted(state.tables)).toEqual(['order_statuses', 'orders']);
      expect(sorted(state.views(schema('0002_order_statuses')))).toEqual(['order_statuses', 'orders']);
      expect(await query(db, 'select code from order_statuses order by code')).toEqual([
        { code: 'archived' },
        { code: 'new' },
        { code: 'paid' },
      ]);
    },
  },
];

type Status = { migrations: Array<{ name: string; phase: string; versionSchema: string | null }> };

/**
 * Defines the example tests for some engines; the examples run in a few test
 * files so that jest spreads them over its workers.
 */
export function defineExampleTests(engines: Engine[], options: { guard: boolean; part?: [number, number] }): void {
  const [part, parts] = options.part ?? [0, 1];
  if (options.guard)
    test('every folder of migrations-examples is tested here and listed in its README', () => {
      const folders = readdirSync(EXAMPLES_ROOT, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
      expect(folders).toEqual(EXAMPLES.map((e) => e.folder).sort());
      const readme = readFileSync(path.join(EXAMPLES_ROOT, 'README.md'), 'utf8');
      for (const example of EXAMPLES) {
        expect(readme).toContain(`${example.folder}/`);
        const files = readdirSync(path.join(EXAMPLES_ROOT, example.folder)).sort();
        expect(files.map((f) => path.basename(f, '.ts'))).toEqual(example.migrations);
      }
    });

  const CASES = EXAMPLES.filter((_, i) => i % parts === part).flatMap((example) =>
    example.engines.filter((e) => engines.includes(e)).map((engine) => [example.folder, engine, example] as const),
  );

  describe.each(CASES)('example %s on %s', (_folder, engine, example) => {
    const dir = path.join(EXAMPLES_ROOT, example.folder);
    const dbs: TestDatabase[] = [];
    afterAll(async () => {
      await Promise.all(dbs.map((db) => db.drop()));
    });
    const fresh = async () => {
      const db = await createTestDatabase(engine);
      dbs.push(db);
      return db;
    };
    const cli = (db: TestDatabase, folder: string, ...args: string[]): Promise<CliResult> =>
      runCli([...args, '--dir', folder], { env: { ZMIGRATE_DATABASE_URL: db.url } });
    const ok = (result: CliResult): CliResult => {
      if (result.code !== 0) throw new Error(`zmigrate exited ${result.code}: ${result.stderr}`);
      return result;
    };
    /**
     * Each migration's phase, through the API in this process (test/cli.test.ts covers `status --json`
     * itself; a CLI process per look costs CPU the whole suite waits for).
     */
    const phases = (db: TestDatabase, folder = dir): Promise<Status['migrations']> =>
      withMigrator(db.url, folder, (migrator) => migrator.status());
    const check = async (db: TestDatabase, checks: (ctx: Ctx) => Promise<void>) =>
      checks({ db, schema: (m) => `${db.base}_${m}`, state: await inspect(db) });

    test('expand → all expanded → contract → all complete', async () => {
      const db = await fresh();
      const last = example.migrations.at(-1)!;

      const expand = ok(await cli(db, dir, 'expand'));
      expect(expand.stdout).toBe(`expanded ${example.migrations.join(', ')}; new app version schema: ${db.base}_${last}\n`);
      expect(await phases(db)).toEqual(
        example.migrations.map((name) => expect.objectContaining({ name, phase: 'expanded', versionSchema: `${db.base}_${name}` })),
      );
      expect(ok(await cli(db, dir, 'schema')).stdout).toBe(`${db.base}_${last}\n`);
      await check(db, example.expanded);

      const contract = ok(await cli(db, dir, 'contract'));
      expect(contract.stdout).toContain(`contracted ${example.migrations.join(', ')}`);
      const after = await phases(db);
      expect(after.map((m) => [m.name, m.phase])).toEqual(example.migrations.map((name) => [name, 'complete']));
      expect(after.at(-1)!.versionSchema).toBe(`${db.base}_${last}`);
      await check(db, example.complete);

      // Nothing left to do either way; running a phase again (a CI rerun) is fine and changes nothing.
      expect(ok(await cli(db, dir, 'expand')).stdout).toBe('nothing to expand: every migration is expanded or complete\n');
      expect(ok(await cli(db, dir, 'contract')).stdout).toBe('nothing to contract: every migration is already complete\n');
      expect((await phases(db)).map((m) => m.phase)).toEqual(example.migrations.map(() => 'complete'));
    });

    test('expand → rollback, one migration at a time, leaves no trace', async () => {
      const db = await fresh();
      // What the database looks like with no migration, then with each prefix of the migrations expanded.
      const snapshots: Snapshot[] = [snapshot(await inspect(db))];
      const files = readdirSync(dir).sort();
      for (let i = 1; i < files.length; i++) {
        const prefix = migrationsDir(Object.fromEntries(files.slice(0, i).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')])));
        ok(await cli(db, prefix, 'expand'));
        snapshots.push(snapshot(await inspect(db)));
      }
      ok(await cli(db, dir, 'expand'));
      expect((await phases(db)).map((m) => m.phase)).toEqual(example.migrations.map(() => 'expanded'));
      const expanded = snapshot(await inspect(db));
      expect(expanded.versionSchemas).toEqual(example.migrations.map((m) => `${db.base}_${m}`));

      for (let i = example.migrations.length - 1; i >= 0; i--) {
        const rollback = ok(await cli(db, dir, 'rollback'));
        expect(rollback.stdout).toBe(`rolled back ${example.migrations[i]}\n`);
        expect(snapshot(await inspect(db))).toEqual(snapshots[i]);
      }
      expect((await phases(db)).map((m) => [m.name, m.phase])).toEqual(example.migrations.map((name) => [name, 'rolled back']));

      const nothing = await cli(db, dir, 'rollback');
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toContain('nothing to roll back');
    });
  });

  /** Everything inspect() sees, as plain data to compare. */
}

interface Snapshot {
  tables: string[];
  versionSchemas: string[];
  triggers: string[];
  columns: Record<string, string[]>;
  visibleColumns: Record<string, string[]>;
  indexes: Record<string, string[]>;
  views: Record<string, string[]>;
}

function snapshot(state: Inspection): Snapshot {
  const perTable = (f: (t: string) => string[]) => Object.fromEntries(state.tables.map((t) => [t, f(t)]));
  return {
    tables: state.tables,
    versionSchemas: state.versionSchemas,
    triggers: state.triggers,
    columns: perTable(state.columns),
    visibleColumns: perTable(state.visibleColumns),
    indexes: perTable(state.indexes),
    views: Object.fromEntries(state.versionSchemas.map((s) => [s, state.views(s)])),
  };
}
