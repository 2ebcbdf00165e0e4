/**
 * Views of the user's own (reports, say) over the tables a migration
 * changes. PostgreSQL refuses to drop a column or table a view reads, so a
 * contract that drops one would fail after the deploy; MySQL/MariaDB look a
 * view's tables and columns up by name when it runs, so dropping or renaming
 * one breaks the view. Such operations are refused before anything changes,
 * naming the view; those each engine's views survive go ahead, and the
 * views still answer after contract. zmigrate's own version-schema views do
 * not count. The same holds for triggers, generated columns and policies
 * that use a column, on PostgreSQL for publications (column list, row
 * filter) and SQL-standard function bodies, and for other tables' foreign
 * keys to a dropped table. One made by hand after expand makes contract
 * refuse before it changes anything.
 */
import { createTestDatabase, SERVER_ENGINES, type Engine, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli, type CliResult } from './support/cli';
import { rowsOf } from './support/apps';
import { inspect, snapshot } from './support/inspect';

/**
 * An object made by hand after expand that holds on to the column the
 * contract drops (`made`): contract refuses before it changes anything
 * (exit 2, naming it), the migration stays expanded, and once the object is
 * gone (`unmade`) a rerun of contract goes on.
 */
async function contractWaitsFor(
  db: TestDatabase,
  run: (operation: string, command?: string) => Promise<CliResult>,
  operation: string,
  object: { made: string; holder: RegExp; unmade: string },
): Promise<void> {
  expect(outcome(await run(operation))).toEqual({ code: 0, errors: [] });
  await db.knex.raw(object.made);
  const before = await snapshot(db);
  const refused = await run(operation, 'contract');
  expect(refused.code).toBe(2);
  expect(refused.stderr.trim().split('\n').at(-1)).toMatch(
    new RegExp(
      `^error: 0001_change: .*: ${object.holder.source} (reads|uses) it, and .*\\(drop the .* and run zmigrate contract again: nothing has changed yet\\)$`,
    ),
  );
  expect(await snapshot(db)).toEqual(before);
  expect((await run(operation, 'status')).stdout).toMatch(/^0001_change\s+expanded\b/m);
  await db.knex.raw(object.unmade);
  expect(outcome(await run(operation, 'contract'))).toEqual({ code: 0, errors: [] });
}

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
    const before = await snapshot(db);
    const result = await run(operation);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`view ${db.base}\\.${view} reads it, and ${message.source}`));
    expect(await snapshot(db)).toEqual(before);
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
      pg
        ? /PostgreSQL would refuse to drop it at contract/
        : /it would fail \(or MySQL\/MariaDB refuse the drop\) once contract drops the column/,
    );
  });

  test('dropTable of a table a view reads (only its rows) is refused', async () => {
    await db.knex.raw('DROP VIEW order_totals');
    await db.knex.raw('DROP VIEW order_notes');
    await refused(
      "op.dropTable('orders')",
      'order_count',
      pg ? /PostgreSQL would refuse to drop the table at contract/ : /it would fail once contract drops the table/,
      ['order_count'],
    );
  });

  test('a view made after expand over a column dropColumn drops stops contract before it changes anything', async () => {
    await contractWaitsFor(db, run, "op.dropColumn('orders', 'extra')", {
      made: 'CREATE VIEW order_extras AS SELECT id, extra FROM orders',
      holder: new RegExp(`view ${db.base}\\.order_extras`),
      unmade: 'DROP VIEW order_extras',
    });
    expect((await inspect(db)).columns('orders')).toEqual(['id', 'amount', 'note']);
    expect(await answers()).toEqual(ANSWERS);
  });

  test('a column no view reads is dropped as before', async () => {
    await goesAhead("op.dropColumn('orders', 'extra')");
  });

  test(`alterColumn of a column a view reads is ${pg ? 'refused' : 'done, and the view reads the new column'}`, async () => {
    const operation = "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })";
    if (pg) await refused(operation, 'order_totals', /PostgreSQL would refuse to drop the old column at contract/);
    else await goesAhead(operation);
  });

  test(`renameColumn of a column a view reads is ${pg ? 'done, and the view follows it' : 'refused'}`, async () => {
    const operation = "op.renameColumn('orders', 'note', 'memo')";
    if (pg) await goesAhead(operation);
    else await refused(operation, 'order_notes', /it would fail once contract renames the column \(MySQL\/MariaDB finds columns by name\)/);
  });

  test(`renameTable of a table a view reads is ${pg ? 'done, and the views follow it' : 'refused'}`, async () => {
    const operation = "op.renameTable('orders', 'purchases')";
    if (pg) await goesAhead(operation);
    else await refused(operation, 'order_totals', /it would fail once contract renames the table \(MySQL\/MariaDB finds tables by name\)/);
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

describe.each(SERVER_ENGINES)('triggers and generated columns of the user over changed columns on %s', (engine: Engine) => {
  const pg = engine === 'postgres';
  let db: TestDatabase;

  const run = (operation: string, command = 'expand'): Promise<CliResult> =>
    runCli([command, '--dir', migrationsDir({ '0001_change.ts': migrationSource([operation]) })], {
      env: { ZMIGRATE_DATABASE_URL: db.url },
    });

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, amount integer NOT NULL, note varchar(40), extra integer)');
    await db.knex.raw("INSERT INTO orders (id, amount, note) VALUES (1, 10, 'a'), (2, 20, 'b')");
  });

  afterEach(async () => {
    await db.drop();
  });

  /** A trigger that reads orders.amount (on PostgreSQL, one that fires on updates of it). */
  async function trigger(): Promise<void> {
    if (pg) {
      await db.knex.raw(
        "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'x' || NEW.amount; RETURN NEW; END $$",
      );
      await db.knex.raw('CREATE TRIGGER stamp BEFORE UPDATE OF amount ON orders FOR EACH ROW EXECUTE FUNCTION stamp()');
    } else {
      await db.knex.raw("CREATE TRIGGER stamp BEFORE UPDATE ON orders FOR EACH ROW SET NEW.note = CONCAT('x', NEW.amount)");
    }
  }

  const generated = () =>
    db.knex.raw(`ALTER TABLE orders ADD COLUMN twice integer ${pg ? 'GENERATED ALWAYS AS (amount * 2) STORED' : 'AS (amount * 2) STORED'}`);

  async function refused(operation: string, holder: RegExp, consequence: RegExp): Promise<void> {
    const before = await snapshot(db);
    const result = await run(operation);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`${holder.source} uses it, and ${consequence.source}`));
    const after = await snapshot(db);
    expect(after).toEqual(before);
    expect(after.versionSchemas).toEqual([]);
  }

  const dropAmount = "op.dropColumn('orders', 'amount')";
  const dropped = pg
    ? /PostgreSQL would refuse to drop it at contract/
    : /it would fail \(or MySQL\/MariaDB refuse the drop\) once contract drops the column/;

  test('dropColumn of a column a trigger reads is refused', async () => {
    await trigger();
    await refused(dropAmount, /trigger stamp/, dropped);
  });

  test('dropColumn of a column a generated column is computed from is refused', async () => {
    await generated();
    await refused(dropAmount, /generated column twice/, dropped);
  });

  test('a trigger over other columns does not stop dropColumn', async () => {
    await trigger();
    expect((await run("op.dropColumn('orders', 'extra')")).code).toBe(0);
    expect((await run("op.dropColumn('orders', 'extra')", 'contract')).code).toBe(0);
    await db.knex('orders').where({ id: 1 }).update({ amount: 11 });
    expect((await db.knex('orders').where({ id: 1 }).first()).note).toBe('x11');
  });

  /** A trigger on any update whose PL/pgSQL function names NEW.note and NEW.amount: no dependency records that. */
  async function functionTrigger(): Promise<void> {
    await db.knex.raw(
      "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'x' || NEW.amount; RETURN NEW; END $$",
    );
    await db.knex.raw('CREATE TRIGGER touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch()');
  }

  // MySQL/MariaDB's trigger, and PostgreSQL's trigger function, find the new column under the old name.
  test(`alterColumn of a column a trigger${pg ? ' function' : ''} names is done, and it reads the new column`, async () => {
    await (pg ? functionTrigger() : trigger());
    const widen = "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })";
    expect((await run(widen)).code).toBe(0);
    expect((await run(widen, 'contract')).code).toBe(0);
    await db.knex('orders').where({ id: 1 }).update({ amount: 5_000_000_000 });
    expect((await db.knex('orders').where({ id: 1 }).first()).note).toBe('x5000000000');
  });

  if (pg) {
    test('dropColumn of a column a trigger function names is refused', async () => {
      await functionTrigger();
      await refused("op.dropColumn('orders', 'note')", /trigger function touch/, /it would fail once contract drops the column/);
    });

    test('renameColumn of a column a trigger function names is refused', async () => {
      await functionTrigger();
      await refused(
        "op.renameColumn('orders', 'note', 'memo')",
        /trigger function touch/,
        /it would fail once contract renames the column \(a function body is not rewritten\)/,
      );
    });

    test.each([
      ['a trigger', trigger, /trigger stamp/],
      ['a generated column', generated, /generated column twice/],
      [
        'a row security policy',
        async () => {
          await db.knex.raw('ALTER TABLE orders ENABLE ROW LEVEL SECURITY');
          await db.knex.raw('CREATE POLICY positive ON orders USING (amount > 0)');
        },
        /policy positive/,
      ],
    ])('alterColumn of a column %s uses is refused', async (_what, create, holder) => {
      await create();
      const widen = "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })";
      await refused(widen, holder, /PostgreSQL would refuse to drop the old column at contract/);
    });

    // PostgreSQL 15+: a publication's column list or row filter, and a SQL-standard function body, depend on the column.
    const HOLDERS: Array<[string, string, RegExp, string]> = [
      [
        'a publication column list',
        'CREATE PUBLICATION sales FOR TABLE orders (id, amount)',
        /publication sales/,
        'DROP PUBLICATION sales',
      ],
      [
        'a publication row filter',
        'CREATE PUBLICATION sales FOR TABLE orders WHERE (amount > 0)',
        /publication sales/,
        'DROP PUBLICATION sales',
      ],
      [
        'a BEGIN ATOMIC function body',
        'CREATE FUNCTION first_amount() RETURNS int BEGIN ATOMIC SELECT amount FROM orders ORDER BY id LIMIT 1; END',
        /function first_amount\(\)/,
        'DROP FUNCTION first_amount()',
      ],
      [
        'a RETURN function body',
        'CREATE FUNCTION above_max(x int) RETURNS boolean RETURN x > (SELECT max(amount) FROM orders)',
        /function above_max\(integer\)/,
        'DROP FUNCTION above_max(integer)',
      ],
    ];
    const widen = "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })";

    test.each(HOLDERS)('alterColumn and dropColumn of a column %s uses are refused', async (_what, made, holder) => {
      await db.knex.raw(made);
      await refused(widen, holder, /PostgreSQL would refuse to drop the old column at contract/);
      await refused(dropAmount, holder, dropped);
    });

    test.each(HOLDERS)(
      '%s made after expand stops the contract of alterColumn before it changes anything',
      async (_what, made, holder, unmade) => {
        await contractWaitsFor(db, run, widen, { made, holder, unmade });
        expect(
          rowsOf(
            await db.knex.raw(
              "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders' AND column_name = 'amount'",
            ),
          ),
        ).toEqual([{ data_type: 'bigint' }]);
      },
    );

    test.each(HOLDERS)(
      '%s made after expand stops the contract of dropColumn before it changes anything',
      async (_what, made, holder, unmade) => {
        await contractWaitsFor(db, run, "op.dropColumn('orders', 'amount', { down: '0' })", { made, holder, unmade });
        expect((await inspect(db)).columns('orders')).toEqual(['id', 'note', 'extra']);
      },
    );
  } else {
    test('renameColumn of a column a trigger reads is refused', async () => {
      await trigger();
      await refused(
        "op.renameColumn('orders', 'amount', 'total')",
        /trigger stamp/,
        /it would fail once contract renames the column \(MySQL\/MariaDB finds columns by name\)/,
      );
    });

    test('alterColumn of a column a generated column is computed from is refused', async () => {
      await generated();
      await refused(
        "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })",
        /generated column twice/,
        /MySQL\/MariaDB cannot swap the column in online at contract/,
      );
    });
  }
});

describe.each(SERVER_ENGINES)('dropTable and the foreign keys of other tables to it on %s', (engine: Engine) => {
  let db: TestDatabase;

  const run = (operations: string[], command = 'expand'): Promise<CliResult> =>
    runCli([command, '--dir', migrationsDir({ '0001_drop.ts': migrationSource(operations) })], {
      env: { ZMIGRATE_DATABASE_URL: db.url },
    });

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY)');
    await db.knex.raw(
      'CREATE TABLE items (id integer PRIMARY KEY, order_id integer, CONSTRAINT items_order_fk FOREIGN KEY (order_id) REFERENCES orders (id))',
    );
  });

  afterEach(async () => {
    await db.drop();
  });

  test('a table another table references is refused, naming the key', async () => {
    const before = await snapshot(db);
    const result = await run(["op.dropTable('orders')"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /dropTable orders: foreign key "items_order_fk" of table "items" references it, and .* would refuse to drop the table at contract/,
    );
    expect(await snapshot(db)).toEqual(before);
  });

  test('a foreign key to it made after expand stops the contract before it changes anything', async () => {
    await db.knex.raw('CREATE TABLE legacy (id integer PRIMARY KEY)');
    const operations = ["op.dropTable('legacy')"];
    expect(outcome(await run(operations))).toEqual({ code: 0, errors: [] });
    await db.knex.raw(
      'CREATE TABLE keeps (id integer PRIMARY KEY, legacy_id integer, CONSTRAINT keeps_legacy_fk FOREIGN KEY (legacy_id) REFERENCES legacy (id))',
    );
    const before = await snapshot(db);
    const refused = await run(operations, 'contract');
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n').at(-1)).toMatch(
      /^error: 0001_drop: dropTable legacy: foreign key "keeps_legacy_fk" of table "keeps" references it, .*\(drop that key and run zmigrate contract again: nothing has changed yet\)$/,
    );
    expect(await snapshot(db)).toEqual(before);
    await db.knex.raw(
      engine === 'mysql' ? 'ALTER TABLE keeps DROP FOREIGN KEY keeps_legacy_fk' : 'ALTER TABLE keeps DROP CONSTRAINT keeps_legacy_fk',
    );
    expect(outcome(await run(operations, 'contract'))).toEqual({ code: 0, errors: [] });
    expect((await inspect(db)).tables).not.toContain('legacy');
  });

  if (engine === 'postgres') {
    // Objects that hold on to the table as a whole (or its row type): DROP TABLE without CASCADE refuses.
    const HOLDERS: Array<[string, string, RegExp, string]> = [
      [
        'a function with a SQL-standard body that reads it',
        'CREATE FUNCTION legacy_count() RETURNS bigint BEGIN ATOMIC SELECT count(*) FROM legacy; END',
        /function legacy_count\(\) uses it/,
        'DROP FUNCTION legacy_count()',
      ],
      [
        'a function taking its row type',
        'CREATE FUNCTION legacy_id(l legacy) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$',
        /function legacy_id\(legacy\) uses it/,
        'DROP FUNCTION legacy_id(legacy)',
      ],
      [
        'a column of another table of its row type',
        'CREATE TABLE snapshots (id integer PRIMARY KEY, row_was legacy)',
        /column public\.snapshots\.row_was uses it/,
        'DROP TABLE snapshots',
      ],
    ];

    test.each(HOLDERS)('%s: dropTable is refused before anything changes', async (_what, made, holder) => {
      await db.knex.raw('CREATE TABLE legacy (id integer PRIMARY KEY)');
      await db.knex.raw(made);
      const before = await snapshot(db);
      const result = await run(["op.dropTable('legacy')"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        new RegExp(`dropTable legacy: ${holder.source}, and PostgreSQL would refuse to drop the table at contract`),
      );
      expect(await snapshot(db)).toEqual(before);
    });

    test.each(HOLDERS)('%s, made after expand, stops the contract before it changes anything', async (_what, made, holder, unmade) => {
      await db.knex.raw('CREATE TABLE legacy (id integer PRIMARY KEY)');
      const operations = ["op.dropTable('legacy')"];
      expect(outcome(await run(operations))).toEqual({ code: 0, errors: [] });
      await db.knex.raw(made);
      const before = await snapshot(db);
      const refused = await run(operations, 'contract');
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n').at(-1)).toMatch(
        new RegExp(`^error: 0001_drop: dropTable legacy: ${holder.source}, .*nothing has changed yet\\)$`),
      );
      expect(await snapshot(db)).toEqual(before);
      expect((await run(operations, 'status')).stdout).toMatch(/^0001_drop\s+expanded\b/m);
      await db.knex.raw(unmade);
      expect(outcome(await run(operations, 'contract'))).toEqual({ code: 0, errors: [] });
    });
  }

  test('the referencing table dropped first in the same migration: both go', async () => {
    const operations = ["op.dropTable('items')", "op.dropTable('orders')"];
    expect((await run(operations)).code).toBe(0);
    expect((await run(operations, 'contract')).code).toBe(0);
    expect((await inspect(db)).tables).toEqual([]);
  });
});
