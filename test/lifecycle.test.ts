/**
 * Issue 2, must-show 1: through the CLI, expand → status --json shows the
 * migrations expanded → contract → complete; and expand → rollback leaves no
 * trace of the migration. On PostgreSQL, MariaDB and PGlite.
 */
import pg from 'pg';
import { ALL_ENGINES, createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli } from './support/cli';
import { inspect } from './support/inspect';
import { rowsOf } from './support/apps';

const FILES = {
  '0001_create_orders.ts': migrationSource([
    "op.createTable('orders', { columns: { id: { type: 'bigint', primaryKey: true }, customer: { type: 'varchar(100)', nullable: false }, amount: { type: 'integer', nullable: false, default: '0' } } })",
  ]),
  '0002_add_priority.ts': migrationSource([
    "op.addColumn('orders', 'priority', { type: 'integer', nullable: true })",
    "op.createIndex('orders', ['customer'])",
  ]),
};

describe.each(ALL_ENGINES)('lifecycle on %s', (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await db.drop();
  });

  const cli = (dir: string, ...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });

  test('expand → expanded → contract → complete, with the version schema kept', async () => {
    const dir = migrationsDir(FILES);
    const expand = await cli(dir, 'expand');
    expect(expand.stderr).not.toMatch(/error/);
    expect(expand.code).toBe(0);

    const status = await cli(dir, 'status', '--json');
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as { migrations: Array<{ name: string; phase: string; versionSchema: string | null }> };
    expect(parsed.migrations.map((m) => [m.name, m.phase])).toEqual([
      ['0001_create_orders', 'expanded'],
      ['0002_add_priority', 'expanded'],
    ]);
    expect(parsed.migrations[1].versionSchema).toBe(`${db.base}_0002_add_priority`);

    const schema = await cli(dir, 'schema');
    expect(schema.stdout).toBe(`${db.base}_0002_add_priority\n`);

    const contract = await cli(dir, 'contract');
    expect(contract.code).toBe(0);
    const after = JSON.parse((await cli(dir, 'status', '--json')).stdout) as typeof parsed;
    expect(after.migrations.map((m) => m.phase)).toEqual(['complete', 'complete']);

    const state = await inspect(db);
    expect(state.versionSchemas).toEqual([`${db.base}_0002_add_priority`]);
    expect(state.columns('orders')).toEqual(['id', 'customer', 'amount', 'priority']);
    expect(state.visibleColumns('orders')).toEqual(['id', 'customer', 'amount', 'priority']);
    expect(state.views(`${db.base}_0002_add_priority`)).toEqual(['orders']);
    expect(state.indexes('orders')).toContain('orders_customer_idx');
  });

  test('expand → rollback leaves no trace of the rolled-back migration', async () => {
    const dir = migrationsDir({
      ...FILES,
      '0003_audit.ts': migrationSource([
        "op.createTable('audit_log', { columns: { id: { type: 'bigint', primaryKey: true }, note: { type: 'text' } } })",
        "op.addColumn('orders', 'channel', { type: 'varchar(20)', nullable: false, default: \"'web'\" })",
        "op.createIndex('orders', ['amount'], { name: 'orders_amount_idx' })",
      ]),
    });
    const before = await inspect(db);
    expect((await cli(dir, 'expand')).code).toBe(0);
    const expanded = await inspect(db);
    expect(expanded.tables).toContain('audit_log');
    expect(expanded.versionSchemas).toContain(`${db.base}_0003_audit`);

    const rollback = await cli(dir, 'rollback');
    expect(rollback.code).toBe(0);
    expect(rollback.stdout).toContain('rolled back 0003_audit');

    const after = await inspect(db);
    expect(after.tables).toEqual(before.tables);
    expect(after.columns('orders')).toEqual(before.columns('orders'));
    expect(after.indexes('orders')).toEqual(before.indexes('orders'));
    expect(after.versionSchemas).toEqual(before.versionSchemas);
    expect(after.triggers).toEqual(before.triggers);
    const status = JSON.parse((await cli(dir, 'status', '--json')).stdout) as { migrations: Array<{ name: string; phase: string }> };
    expect(status.migrations.find((m) => m.name === '0003_audit')?.phase).toBe('rolled back');
  });
});

describe.each(SERVER_ENGINES)("the new app's view through contract, on %s", (engine) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase(engine);
  });
  afterEach(async () => {
    await db.drop();
  });

  test("a replaced column keeps its place in the new app's view after contract, and the view its grants", async () => {
    await db.knex.raw('CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL, qty integer NOT NULL)');
    await db.knex('orders').insert({ id: 1, amount: 5, qty: 2 });
    const dir = migrationsDir({
      '0001_widen.ts': migrationSource(["op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })"]),
    });
    const env = { ZMIGRATE_DATABASE_URL: db.url };
    expect((await runCli(['expand', '--dir', dir], { env })).code).toBe(0);
    const schema = `${db.base}_0001_widen`;
    const view = `${engine === 'postgres' ? `"${schema}"` : `\`${schema}\``}.orders`;
    // Granted by hand, as docs/deploying.md offers; MySQL/MariaDB keep privileges by name, so there it holds anyway.
    if (engine === 'postgres') await db.knex.raw(`GRANT SELECT ON ${view} TO PUBLIC`);
    // The new app, on one connection throughout: PostgreSQL keeps its prepared `SELECT *` and the result type with it.
    const app = engine === 'postgres' ? new pg.Client({ connectionString: db.url, options: `-c search_path=${schema}` }) : undefined;
    await app?.connect();
    const selectAll = async (): Promise<Array<[string, unknown]>> => {
      if (app)
        return Object.entries((await app.query({ name: 'one_order', text: 'SELECT * FROM orders WHERE id = $1', values: [1] })).rows[0]);
      return Object.entries(rowsOf<Record<string, unknown>>(await db.versionKnex(schema).raw('SELECT * FROM orders WHERE id = 1'))[0]);
    };
    /** Who may read the view (PostgreSQL): the grant above, or nothing once the view was made anew. */
    const grants = async () =>
      String(
        rowsOf<{ acl: string | null }>(await db.knex.raw('SELECT relacl::text AS acl FROM pg_class WHERE oid = ?::regclass', [view]))[0]
          .acl,
      );
    try {
      expect((await selectAll()).map(([k]) => k)).toEqual(['id', 'amount', 'qty']);
      if (engine === 'postgres') expect(await grants()).toMatch(/(^|[{,])=r\//);

      expect((await runCli(['contract', '--dir', dir], { env })).code).toBe(0);
      expect((await selectAll()).map(([k, v]) => [k, Number(v)])).toEqual([
        ['id', 1],
        ['amount', 5],
        ['qty', 2],
      ]);
      if (engine === 'postgres') expect(await grants()).toMatch(/(^|[{,])=r\//);
      // An insert without a column list fills the columns in the order the app knows.
      await db.versionKnex(schema).raw('INSERT INTO orders VALUES (2, 700, 3)');
      expect(await db.knex('orders').where({ id: 2 }).first('amount', 'qty')).toEqual({
        amount: engine === 'postgres' ? '700' : 700,
        qty: 3,
      });
    } finally {
      await app?.end();
    }
  });
});

describe.each(SERVER_ENGINES)('privileges granted on a replaced column, on %s', (engine) => {
  const role = `zmt_reader_${process.pid}_${Date.now().toString(36)}`;
  const grantee = engine === 'postgres' ? `"${role}"` : `'${role}'@'%'`;
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase(engine);
    await db.knex.raw(engine === 'postgres' ? `CREATE ROLE ${grantee}` : `CREATE USER ${grantee}`);
  });
  afterEach(async () => {
    try {
      // PostgreSQL keeps a role that holds privileges in a database: those go first.
      if (engine === 'postgres') await db.knex.raw(`DROP OWNED BY ${grantee}`);
      await db.knex.raw(engine === 'postgres' ? `DROP ROLE ${grantee}` : `DROP USER ${grantee}`);
    } finally {
      await db.drop();
    }
  });

  /** The role's privileges on columns of orders, as the SQL-standard view lists them. */
  const privileges = async () =>
    rowsOf<Record<string, unknown>>(
      await db.knex.raw(
        `SELECT column_name AS c, privilege_type AS p, is_grantable AS g FROM information_schema.column_privileges
          WHERE table_schema = ? AND table_name = 'orders' AND grantee = ? ORDER BY 1, 2`,
        [db.base, engine === 'postgres' ? role : `'${role}'@'%'`],
      ),
    ).map((r) => Object.values(r).map(String));

  test('alterColumn grants them again on the new column in the swap', async () => {
    await db.knex.raw('CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL, qty integer NOT NULL)');
    await db.knex.raw(`GRANT SELECT (id, amount), UPDATE (amount) ON orders TO ${grantee}`);
    await db.knex.raw(`GRANT INSERT (amount) ON orders TO ${grantee} WITH GRANT OPTION`);
    const before = await privileges();
    expect(before.filter(([column]) => column === 'amount').map(([, privilege]) => privilege)).toEqual(['INSERT', 'SELECT', 'UPDATE']);
    const dir = migrationsDir({
      '0001_widen.ts': migrationSource(["op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })"]),
    });
    for (const command of ['expand', 'contract'])
      expect(outcome(await runCli([command, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } }))).toEqual({ code: 0, errors: [] });
    expect(await privileges()).toEqual(before);
  });
});

describe.each(ALL_ENGINES)('an expand that failed at its first operation, on %s', (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await db.drop();
  });

  const cli = (dir: string, ...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
  /** A table with an index, a column and a check (on MariaDB by a rebuild of the new table) added to it by the operations after it. */
  const invoices = (metaType: string) => ({
    '0001_invoices.ts': migrationSource([
      `op.createTable('invoices', { columns: { id: { type: 'bigint', primaryKey: true }, account_id: { type: 'integer' }, meta: { type: '${metaType}' } } })`,
      "op.createIndex('invoices', ['account_id'])",
      "op.addColumn('invoices', 'note', { type: 'text', nullable: true })",
      "op.addCheck('invoices', 'invoices_id_positive', 'id > 0')",
    ]),
  });

  test('rolls back, though the operations after it name a table that was never made; the fixed file then expands', async () => {
    const before = await inspect(db);
    const broken = migrationsDir(invoices('no_such_type'));
    const expand = await cli(broken, 'expand');
    expect(expand.code).toBe(1);
    expect(expand.stderr).toMatch(/create table invoices failed/);

    const rollback = await cli(broken, 'rollback');
    expect(rollback.stderr).not.toMatch(/error/);
    expect(rollback.code).toBe(0);
    const after = await inspect(db);
    expect(after.tables).toEqual(before.tables);
    expect(after.versionSchemas).toEqual(before.versionSchemas);
    const status = JSON.parse((await cli(broken, 'status', '--json')).stdout) as { migrations: Array<{ name: string; phase: string }> };
    expect(status.migrations.map((m) => [m.name, m.phase])).toEqual([['0001_invoices', 'rolled back']]);

    const fixed = migrationsDir(invoices(engine === 'mysql' ? 'json' : 'jsonb'));
    expect((await cli(fixed, 'expand')).code).toBe(0);
    expect((await cli(fixed, 'contract')).code).toBe(0);
    const done = await inspect(db);
    expect(done.columns('invoices')).toEqual(['id', 'account_id', 'meta', 'note']);
    expect(done.indexes('invoices')).toContain('invoices_account_id_idx');
  });

  test('raw SQL the failed expand never reached is not undone: its rollback would delete a row that was there before', async () => {
    await db.knex.raw('CREATE TABLE statuses (code varchar(20) PRIMARY KEY)');
    await db.knex.raw("INSERT INTO statuses (code) VALUES ('open'), ('archived')");
    const dir = migrationsDir({
      ...invoices(engine === 'mysql' ? 'json' : 'jsonb'),
      '0002_archive.ts': migrationSource([
        "op.createTable('archive', { columns: { id: { type: 'no_such_type', primaryKey: true } } })",
        'op.sql({ expand: "INSERT INTO statuses (code) VALUES (\'archived\')", rollback: "DELETE FROM statuses WHERE code = \'archived\'" })',
      ]),
    });
    const expand = await cli(dir, 'expand');
    expect(expand.code).toBe(1);
    expect(expand.stderr).toMatch(/create table archive failed/);
    const rollback = await cli(dir, 'rollback');
    expect(outcome(rollback)).toEqual({
      code: 0,
      errors: [],
    });
    expect(rowsOf(await db.knex.raw('SELECT code FROM statuses ORDER BY code'))).toEqual([{ code: 'archived' }, { code: 'open' }]);
  });
});

describe.each(ALL_ENGINES)('a rollback whose planning fails, on %s', (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await db.drop();
  });

  test('changes nothing: the migration stays expanded with its version schema, and rolls back once the table is back', async () => {
    const dir = migrationsDir({
      '0001_priority.ts': migrationSource(["op.addColumn('orders', 'priority', { type: 'integer', nullable: true })"]),
    });
    const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
    const status = async () =>
      (JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<Record<string, unknown>> }).migrations[0];
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY)');
    const before = await inspect(db);
    expect((await cli('expand')).code).toBe(0);
    const schema = `${db.base}_0001_priority`;
    expect((await inspect(db)).versionSchemas).toEqual([schema]);

    // Renamed by hand: the rollback cannot be planned (the table it would undo the column on is gone).
    const rename = (from: string, to: string) =>
      db.knex.raw(engine === 'mysql' ? `RENAME TABLE ${from} TO ${to}` : `ALTER TABLE ${from} RENAME TO ${to}`);
    await rename('orders', 'orders_renamed');
    const refused = await cli('rollback');
    expect(outcome(refused)).toEqual({ code: 2, errors: ['error: 0001_priority: unknown table "orders"'] });
    // The new app's version schema is still there, and the state still names it.
    expect((await inspect(db)).versionSchemas).toEqual([schema]);
    expect(await status()).toMatchObject({ phase: 'expanded', versionSchema: schema });
    expect((await cli('schema')).stdout).toBe(`${schema}\n`);

    await rename('orders_renamed', 'orders');
    expect(outcome(await cli('rollback'))).toEqual({ code: 0, errors: [] });
    expect(await status()).toMatchObject({ phase: 'rolled back', versionSchema: null, error: null });
    const after = await inspect(db);
    expect(after.versionSchemas).toEqual(before.versionSchemas);
    expect(after.columns('orders')).toEqual(['id']);
  });
});

describe.each(SERVER_ENGINES)('a state table made by a zmigrate from before pauses were recorded per migration, on %s', (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await db.drop();
  });

  test('status reads it as it is; the next run adds the column and goes on', async () => {
    const dir = migrationsDir(FILES);
    const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
    expect((await cli('expand')).code).toBe(0);
    const table = engine === 'mysql' ? 'zmigrate_migrations' : 'zmigrate.migrations';
    await db.knex.raw(`ALTER TABLE ${table} DROP COLUMN throttled`);
    const status = await cli('status', '--json');
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { migrations: unknown[] }).migrations).toEqual([
      expect.objectContaining({ phase: 'expanded', throttled: null }),
      expect.objectContaining({ phase: 'expanded', throttled: null }),
    ]);
    // A session that holds the old table (an open transaction that read it, pg_dump) keeps the column from being
    // added: one line, exit 1 (a lock not had in time, as for a step), and nothing changed.
    const reader = await db.knex.transaction();
    try {
      await reader.raw(`SELECT COUNT(*) FROM ${table}`);
      const held = await runCli(['contract', '--dir', dir, '--lock-timeout', '200'], { env: { ZMIGRATE_DATABASE_URL: db.url } });
      expect(held.code).toBe(1);
      expect(held.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          /^error: a statement outside the migration's steps did not get its lock in time: .*\(another session holds the table/,
        ),
      ]);
    } finally {
      await reader.commit();
    }
    expect(outcome(await cli('contract'))).toEqual({ code: 0, errors: [] });
    expect(rowsOf(await db.knex.raw(`SELECT throttled FROM ${table}`))).toEqual([{ throttled: null }, { throttled: null }]);
  });
});
