/**
 * Views of the user's own (reports, say) over the tables a migration
 * changes. PostgreSQL refuses to drop a column or table a view reads, so a
 * contract that drops one would fail after the deploy; MySQL/MariaDB look a
 * view's tables and columns up by name when it runs, so dropping or renaming
 * one breaks the view. Such operations are refused before anything changes,
 * naming the view; those each engine's views survive go ahead, and the
 * views still answer after contract. zmigrate's own version-schema views do
 * not count.
 */
import { createTestDatabase, SERVER_ENGINES, type Engine, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli, type CliResult } from './support/cli';
import { rowsOf } from './support/apps';
import { inspect } from './support/inspect';

describe.each(SERVER_ENGINES)('views of the user over changed tables on %s', (engine: Engine) => {
  const pg = engine === 'postgres';
  let db: TestDatabase;

  const run = (operation: string, command = 'expand', name = '0001_change'): Promise<CliResult> =>
    runCli([command, '--dir', migrationsDir({ [`${name}.ts`]: migrationSource([operation]) })], {
      env: { ZMIGRATE_DATABASE_URL: db.url },
    });

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, amount integer NOT NULL, note varchar(40), extra integer)');
    await db.knex.raw("INSERT INTO orders (id, amount, note) VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c')");
    await db.knex.raw('CREATE VIEW order_totals AS SELECT sum(amount) AS total FROM orders');
    await db.knex.raw('CREATE VIEW order_notes AS SELECT id, note FROM orders');
    // Reads the table's rows, none of its columns.
    await db.knex.raw('CREATE VIEW order_count AS SELECT count(*) AS n FROM orders');
  });

  afterEach(async () => {
    await db.drop();
  });

  const QUERIES: Record<string, string> = {
    order_totals: 'SELECT total FROM order_totals',
    order_notes: 'SELECT id, note FROM order_notes ORDER BY id',
    order_count: 'SELECT n FROM order_count',
  };
  const ANSWERS: Record<string, unknown> = {
    order_totals: [['60']],
    order_notes: [
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'c'],
    ],
    order_count: [['3']],
  };

  /** What each view still there answers. */
  async function answers(views = Object.keys(QUERIES)): Promise<Record<string, unknown>> {
    const found: Record<string, unknown> = {};
    for (const view of views)
      found[view] = rowsOf<Record<string, unknown>>(await db.knex.raw(QUERIES[view])).map((r) => Object.values(r).map(String));
    return found;
  }

  /** Refused with exit 2, naming the view, with nothing changed. */
  async function refused(operation: string, view: string, message: RegExp, views = Object.keys(QUERIES)): Promise<void> {
    const shape = await inspect(db);
    const result = await run(operation);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(`view ${db.base}\\.${view} reads it, and ${pg ? 'PostgreSQL' : 'MySQL/MariaDB'} ${message.source}`),
    );
    const after = await inspect(db);
    expect([after.tables, after.columns('orders'), after.versionSchemas, after.triggers]).toEqual([
      shape.tables,
      shape.columns('orders'),
      shape.versionSchemas,
      shape.triggers,
    ]);
    expect(await answers(views)).toEqual(Object.fromEntries(views.map((v) => [v, ANSWERS[v]])));
  }

  /** Expanded and contracted, after which every view answers, as `expected`. */
  async function goesAhead(operation: string): Promise<void> {
    expect((await run(operation)).code).toBe(0);
    expect((await run(operation, 'contract')).code).toBe(0);
    expect(await answers()).toEqual(ANSWERS);
  }

  test('dropColumn of a column a view reads is refused', async () => {
    await refused(
      "op.dropColumn('orders', 'amount')",
      'order_totals',
      pg ? /would refuse to drop it at contract/ : /would leave the view broken/,
    );
  });

  test('dropTable of a table a view reads (only its rows) is refused', async () => {
    await db.knex.raw('DROP VIEW order_totals');
    await db.knex.raw('DROP VIEW order_notes');
    await refused("op.dropTable('orders')", 'order_count', pg ? /would refuse to drop the table/ : /would leave the view broken/, [
      'order_count',
    ]);
  });

  test('a column no view reads is dropped as before', async () => {
    await goesAhead("op.dropColumn('orders', 'extra')");
  });

  test(`alterColumn of a column a view reads is ${pg ? 'refused' : 'done, and the view reads the new column'}`, async () => {
    const operation = "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })";
    if (pg) await refused(operation, 'order_totals', /would refuse to drop the old column at contract/);
    else await goesAhead(operation);
  });

  test(`renameColumn of a column a view reads is ${pg ? 'done, and the view follows it' : 'refused'}`, async () => {
    const operation = "op.renameColumn('orders', 'note', 'memo')";
    if (pg) await goesAhead(operation);
    else await refused(operation, 'order_notes', /finds its columns by name, so the rename at contract would break it/);
  });

  test(`renameTable of a table a view reads is ${pg ? 'done, and the views follow it' : 'refused'}`, async () => {
    const operation = "op.renameTable('orders', 'purchases')";
    if (pg) await goesAhead(operation);
    else await refused(operation, 'order_totals', /finds its tables by name, so the rename at contract would break it/);
  });

  test("zmigrate's own version-schema views do not count", async () => {
    // The first migration's version schema, still served, reads every column of orders.
    expect((await run("op.addColumn('orders', 'flag', { type: 'integer' })", 'expand', '0001_flag')).code).toBe(0);
    expect((await run("op.addColumn('orders', 'flag', { type: 'integer' })", 'contract', '0001_flag')).code).toBe(0);
    const dir = migrationsDir({
      '0001_flag.ts': migrationSource(["op.addColumn('orders', 'flag', { type: 'integer' })"]),
      '0002_drop_extra.ts': migrationSource(["op.dropColumn('orders', 'extra')"]),
    });
    const env = { env: { ZMIGRATE_DATABASE_URL: db.url } };
    expect((await runCli(['expand', '--dir', dir], env)).code).toBe(0);
    expect((await runCli(['contract', '--dir', dir], env)).code).toBe(0);
    expect((await inspect(db)).columns('orders')).toEqual(['id', 'amount', 'note', 'flag']);
    expect(await answers()).toEqual(ANSWERS);
  });
});
