/**
 * Issue 3: both app versions live. An old-app writer (base tables, old names)
 * and a new-app writer (latest version schema, new names) run concurrently
 * through expand, the time between expand and contract, and contract (or
 * rollback). Every write must succeed, be visible to the other app under its
 * own names with up/down applied, and the final rows must be exactly what the
 * acknowledged writes imply.
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli } from './support/cli';
import { retryViewSwap, rowsOf, startWriter, waitFor, type Writer } from './support/apps';
import { inspect, snapshot } from './support/inspect';

const ROWS = 3000;

const CREATE_ORDERS = migrationSource([
  "op.createTable('orders', { columns: { id: { type: 'bigint', primaryKey: true }, customer: { type: 'varchar(100)', nullable: false }, amount: { type: 'integer', nullable: false, default: '0' } } })",
]);
// One file that renames a column, changes another's type and adds a derived column.
const RESHAPE = migrationSource([
  "op.renameColumn('orders', 'customer', 'customer_name')",
  "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount * 100', down: 'amount / 100' })",
  "op.addColumn('orders', 'priority', { type: 'integer', nullable: false, up: 'CASE WHEN amount >= 25 THEN 1 ELSE 0 END' })",
]);

/** What the acknowledged writes imply for one row, in old units. */
interface Expected {
  customer: string;
  amount: number;
  /** Set when the new app wrote the row last (it gives priority itself). */
  priority?: number;
}

const up = (amount: number) => (amount >= 25 ? 1 : 0);

describe.each(SERVER_ENGINES)('dual write on %s', (engine) => {
  let db: TestDatabase;
  let dir: string;
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({ '0001_orders.ts': CREATE_ORDERS });
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    const rows = Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, customer: `c${i + 1}`, amount: (i + 1) % 50 }));
    for (let i = 0; i < rows.length; i += 500) await db.knex('orders').insert(rows.slice(i, i + 500));
    await db.knex.raw('CREATE INDEX orders_amount_idx ON orders (amount)');
    await db.knex.raw('CREATE UNIQUE INDEX orders_customer_amount_key ON orders (customer, id, amount)');
  });
  afterEach(async () => {
    await db.drop();
  });

  const expected = new Map<number, Expected>();
  const seed = () => {
    expected.clear();
    for (let i = 1; i <= ROWS; i++) expected.set(i, { customer: `c${i}`, amount: i % 50 });
  };

  /** The old app: inserts above 100000, updates ids in the lower half. Base table, old names. */
  const oldApp = (): Writer =>
    startWriter(async (i) => {
      if (i % 2 === 0) {
        const row = { id: 100_000 + i, customer: `old-${i}`, amount: i % 50 };
        await db.knex('orders').insert(row);
        expected.set(row.id, { customer: row.customer, amount: row.amount });
      } else {
        const id = 1 + ((i * 7) % (ROWS / 2));
        const change = { customer: `old-upd-${i}`, amount: (i * 3) % 50 };
        await db.knex('orders').where({ id }).update(change);
        expected.set(id, change);
      }
    });

  /** MySQL/MariaDB view errors the new app met and retried at contract's column rename (PostgreSQL must meet none). */
  const retries: string[] = [];

  /** The new app: inserts above 200000, updates ids in the upper half. Version schema, new names and units. */
  const newApp = (schema: string, first = 0): Writer => {
    const v2 = db.versionKnex(schema);
    return startWriter(
      async (i) => {
        const amount = (i * 11) % 50;
        const priority = up(amount) + 10;
        if (i % 2 === 0) {
          const id = 2_000_000 + i;
          await retryViewSwap(() => v2('orders').insert({ id, customer_name: `new-${i}`, amount: amount * 100, priority }), retries);
          expected.set(id, { customer: `new-${i}`, amount, priority });
        } else {
          const id = ROWS / 2 + 1 + ((i * 13) % (ROWS / 2));
          await retryViewSwap(
            () =>
              v2('orders')
                .where({ id })
                .update({ customer_name: `new-upd-${i}`, amount: amount * 100, priority }),
            retries,
          );
          expected.set(id, { customer: `new-upd-${i}`, amount, priority });
        }
      },
      { first },
    );
  };

  const addReshape = () => {
    writeFileSync(path.join(dir, '0002_reshape.ts'), RESHAPE);
  };

  async function checkBothViews(schema: string): Promise<void> {
    const base = rowsOf<{ id: number | string; customer: string; amount: number | string }>(
      await db.knex.raw('SELECT id, customer, amount FROM orders'),
    );
    const v2 = rowsOf<{ id: number | string; customer_name: string; amount: number | string; priority: number | string }>(
      await db.versionKnex(schema).raw('SELECT id, customer_name, amount, priority FROM orders'),
    );
    expect(base).toHaveLength(expected.size);
    expect(v2).toHaveLength(expected.size);
    const oldById = new Map(base.map((r) => [Number(r.id), r]));
    const newById = new Map(v2.map((r) => [Number(r.id), r]));
    const wrong: string[] = [];
    for (const [id, want] of expected) {
      const o = oldById.get(id);
      const n = newById.get(id);
      if (o?.customer !== want.customer || Number(o?.amount) !== want.amount)
        wrong.push(`old view of ${id}: ${JSON.stringify(o)} != ${JSON.stringify(want)}`);
      if (
        n?.customer_name !== want.customer ||
        Number(n?.amount) !== want.amount * 100 ||
        Number(n?.priority) !== (want.priority ?? up(want.amount))
      ) {
        wrong.push(`new view of ${id}: ${JSON.stringify(n)} != ${JSON.stringify(want)}`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  }

  test('expand, both apps live, contract: nothing fails, nothing is lost or stale', async () => {
    seed();
    addReshape();
    const schema = `${db.base}_0002_reshape`;
    const old1 = oldApp();
    await waitFor(() => old1.stats.writes >= 5);
    const expand = await cli('expand');
    expect(expand.stderr).not.toContain('error');
    expect(expand.code).toBe(0);
    const neu = newApp(schema);
    await waitFor(() => neu.stats.writes >= 40 && old1.stats.writes >= 60);
    const [o, n] = await Promise.all([old1.stop(), neu.stop()]);
    expect(o.failures).toEqual([]);
    expect(n.failures).toEqual([]);
    await checkBothViews(schema);

    // Contract after the old app is gone; the new app keeps writing through it.
    const neu2 = newApp(schema, 1_000_000);
    await waitFor(() => neu2.stats.writes >= 5);
    const contract = await cli('contract');
    expect(contract.code).toBe(0);
    await waitFor(() => neu2.stats.writes >= 30);
    const n2 = await neu2.stop();
    expect(n2.failures).toEqual([]);
    if (engine === 'postgres') expect(retries).toEqual([]);

    const final = rowsOf<{ id: number | string; customer_name: string; amount: number | string; priority: number | string }>(
      await db.knex.raw('SELECT id, customer_name, amount, priority FROM orders'),
    );
    expect(final).toHaveLength(expected.size);
    const wrong = final.filter((r) => {
      const want = expected.get(Number(r.id))!;
      return (
        r.customer_name !== want.customer ||
        Number(r.amount) !== want.amount * 100 ||
        Number(r.priority) !== (want.priority ?? up(want.amount))
      );
    });
    expect(wrong.slice(0, 5)).toEqual([]);
    const after = await inspect(db);
    expect(after.columns('orders').sort()).toEqual(['amount', 'customer_name', 'id', 'priority']);
    // alterColumn keeps the column's indexes, under their names, on the new column.
    expect(
      after
        .indexes('orders')
        .filter((i) => !/pkey|PRIMARY/.test(i))
        .sort(),
    ).toEqual(['orders_amount_idx', 'orders_customer_amount_key']);
    const plan = rowsOf<Record<string, unknown>>(
      await db.knex.raw(
        engine === 'postgres'
          ? "SELECT indexdef AS d FROM pg_indexes WHERE indexname = 'orders_amount_idx'"
          : "SHOW INDEX FROM orders WHERE Key_name = 'orders_amount_idx'",
      ),
    );
    expect(JSON.stringify(plan)).toContain('amount');
    expect(JSON.stringify(plan)).not.toContain('_zm_');
    expect(after.triggers).toEqual([]);
    expect(after.versionSchemas).toEqual([schema]);
  });

  test('expand, both apps live, rollback: the old app sees every row, no trace remains', async () => {
    seed();
    const before = await inspect(db);
    addReshape();
    const schema = `${db.base}_0002_reshape`;
    expect((await cli('expand')).code).toBe(0);
    const old1 = oldApp();
    const neu = newApp(schema);
    await waitFor(() => neu.stats.writes >= 40 && old1.stats.writes >= 40);
    // Both apps write all through the rollback (the old app on after it). The new app's writes fail once
    // rollback has dropped its schema, its first step: only those are excused. A failure counted before a
    // look that still found the schema happened while it existed.
    let rollingBack = true;
    let beforeDrop = 0;
    const watching = (async () => {
      while (rollingBack) {
        const failures = neu.stats.failures.length;
        const [found] = rowsOf(await db.knex.raw('SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?', [schema]));
        if (!found) return;
        beforeDrop = failures;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const rolledBack = await cli('rollback');
    rollingBack = false;
    await watching;
    expect({ code: rolledBack.code, stderr: rolledBack.code === 0 ? '' : rolledBack.stderr }).toEqual({ code: 0, stderr: '' });
    const afterRollback = old1.stats.writes;
    await waitFor(() => old1.stats.writes >= afterRollback + 20 || old1.stats.failures.length > 0);
    const [o, n] = await Promise.all([old1.stop(), neu.stop()]);
    expect(o.failures).toEqual([]);
    expect(n.failures.slice(0, beforeDrop)).toEqual([]);
    expect(n.failures.filter((f) => !/doesn't exist|does not exist/.test(f))).toEqual([]);
    // Writes the new app could not make after its schema was gone were never acknowledged.

    const rows = rowsOf<{ id: number | string; customer: string; amount: number | string }>(
      await db.knex.raw('SELECT id, customer, amount FROM orders'),
    );
    expect(rows).toHaveLength(expected.size);
    const wrong = rows.filter((r) => {
      const want = expected.get(Number(r.id))!;
      return r.customer !== want.customer || Number(r.amount) !== want.amount;
    });
    expect(wrong.slice(0, 5)).toEqual([]);
    const after = await inspect(db);
    expect(after.columns('orders')).toEqual(before.columns('orders'));
    expect(after.indexes('orders')).toEqual(before.indexes('orders'));
    expect(after.triggers).toEqual(before.triggers);
    expect(after.versionSchemas).toEqual(before.versionSchemas);
  });

  test('dropColumn with down and setNotNull with up', async () => {
    await db.knex.raw(
      engine === 'postgres'
        ? 'CREATE TABLE items (id integer PRIMARY KEY, label text, legacy varchar(20) NOT NULL)'
        : 'CREATE TABLE items (id integer PRIMARY KEY, label text, legacy varchar(20) NOT NULL)',
    );
    await db.knex('items').insert([
      { id: 1, label: 'a', legacy: 'L1' },
      { id: 2, label: null, legacy: 'L2' },
    ]);
    writeFileSync(
      path.join(dir, '0002_items.ts'),
      migrationSource([
        "op.dropColumn('items', 'legacy', { down: \"'n/a'\" })",
        "op.setNotNull('items', 'label', { up: \"coalesce(label, 'none')\" })",
      ]),
    );
    expect((await cli('expand')).code).toBe(0);
    const schema = `${db.base}_0002_items`;
    const v2 = db.versionKnex(schema);
    // The old app still writes legacy and may leave label NULL; the new app no longer knows legacy.
    await db.knex('items').insert({ id: 3, label: null, legacy: 'L3' });
    await v2('items').insert({ id: 4, label: 'd' });
    const base = rowsOf<{ id: number; label: string; legacy: string }>(
      await db.knex.raw('SELECT id, label, legacy FROM items ORDER BY id'),
    );
    expect(base.map((r) => [Number(r.id), r.label, r.legacy])).toEqual([
      [1, 'a', 'L1'],
      [2, 'none', 'L2'],
      [3, 'none', 'L3'],
      [4, 'd', 'n/a'],
    ]);
    const viewColumns = Object.keys(rowsOf<Record<string, unknown>>(await v2.raw('SELECT * FROM items ORDER BY id'))[0]);
    expect(viewColumns).toEqual(['id', 'label']);

    expect((await cli('contract')).code).toBe(0);
    expect((await inspect(db)).columns('items')).toEqual(['id', 'label']);
    await expect(db.knex('items').insert({ id: 5, label: null })).rejects.toThrow();
    await v2('items').insert({ id: 6, label: 'f' });
    expect(rowsOf(await v2.raw('SELECT id FROM items'))).toHaveLength(5);
  });

  test('a table with json columns (no equality operator on PostgreSQL): both apps update it while the triggers compare its columns', async () => {
    await db.knex.raw('CREATE TABLE events (id integer PRIMARY KEY, payload json, shape point, amount integer NOT NULL)');
    await db.knex.raw(
      engine === 'postgres'
        ? `INSERT INTO events VALUES (1, '{"a": 1}', '(1,2)', 5), (2, NULL, NULL, 30)`
        : `INSERT INTO events VALUES (1, '{"a": 1}', POINT(1, 2), 5), (2, NULL, NULL, 30)`,
    );
    writeFileSync(
      path.join(dir, '0004_events.ts'),
      migrationSource([
        "op.addColumn('events', 'big', { type: 'integer', nullable: true, up: 'CASE WHEN amount >= 25 THEN 1 ELSE 0 END' })",
        "op.alterColumn('events', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })",
        // A json column filled from up: verified row by row, where json has no equality operator on PostgreSQL.
        `op.addColumn('events', 'meta', { type: 'json', nullable: true, up: "${engine === 'postgres' ? 'json_build_object' : 'JSON_OBJECT'}('id', id)" })`,
      ]),
    );
    expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
    const v4 = db.versionKnex(`${db.base}_0004_events`);
    // The old app changes the json column alone, then the amount; the new app changes the json column.
    await db.knex('events').where({ id: 1 }).update({ payload: '{"a": 2}' });
    await db.knex('events').where({ id: 1 }).update({ amount: 40 });
    await v4('events').where({ id: 2 }).update({ payload: '{"b": 1}' });
    const rows = rowsOf<{ id: number; big: number; amount: number; payload: unknown }>(
      await v4.raw('SELECT id, big, amount, payload FROM events ORDER BY id'),
    );
    expect(rows.map((r) => [Number(r.id), Number(r.big), Number(r.amount)])).toEqual([
      [1, 1, 40],
      [2, 1, 30],
    ]);
    const meta = rowsOf<{ meta: unknown }>(await db.knex.raw('SELECT meta FROM events ORDER BY id')).map((r) =>
      typeof r.meta === 'string' ? JSON.parse(r.meta) : r.meta,
    );
    expect(meta).toEqual([{ id: 1 }, { id: 2 }]);
    expect(outcome(await cli('contract'))).toEqual({ code: 0, errors: [] });
  });

  test("a write that changes a string's case, accents or trailing spaces alone reaches the other app's column (equal under the collation, not the same)", async () => {
    await db.knex.raw('CREATE TABLE users (id integer PRIMARY KEY, name varchar(50) NOT NULL)');
    await db.knex('users').insert([
      { id: 1, name: 'alice' },
      { id: 2, name: 'Jose' },
      { id: 3, name: 'pad' },
      { id: 4, name: 'bob' },
    ]);
    writeFileSync(
      path.join(dir, '0005_users.ts'),
      migrationSource([
        "op.alterColumn('users', 'name', { type: 'varchar(100)', up: 'name', down: 'name' })",
        `op.addColumn('users', 'tag', { type: 'varchar(60)', nullable: true, up: "${engine === 'postgres' ? "'[' || name || ']'" : "CONCAT('[', name, ']')"}" })`,
      ]),
    );
    expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
    const v5 = db.versionKnex(`${db.base}_0005_users`);
    // The old app changes names; the new app changes one by case alone.
    await db.knex('users').where({ id: 1 }).update({ name: 'Alice' });
    await db.knex('users').where({ id: 2 }).update({ name: 'José' });
    await db.knex('users').where({ id: 3 }).update({ name: 'pad ' });
    await v5('users').where({ id: 4 }).update({ name: 'BOB' });
    const names = ['Alice', 'José', 'pad ', 'BOB'];
    const newView = rowsOf<{ name: string; tag: string }>(await v5.raw('SELECT name, tag FROM users ORDER BY id'));
    expect(newView).toEqual([
      { name: 'Alice', tag: '[Alice]' },
      { name: 'José', tag: '[José]' },
      { name: 'pad ', tag: '[pad ]' },
      { name: 'BOB', tag: '[bob]' },
    ]);
    expect(rowsOf<{ name: string }>(await db.knex.raw('SELECT name FROM users ORDER BY id')).map((r) => r.name)).toEqual(names);
    expect(outcome(await cli('contract'))).toEqual({ code: 0, errors: [] });
    expect(rowsOf<{ name: string }>(await db.knex.raw('SELECT name FROM users ORDER BY id')).map((r) => r.name)).toEqual(names);
  });

  test("a new column whose up reads an old column that another operation's down fills gets it from what the new app wrote, whatever the operations' order", async () => {
    await db.knex.raw('CREATE TABLE invoices (id integer PRIMARY KEY, amount integer NOT NULL DEFAULT 0)');
    await db.knex('invoices').insert({ id: 1, amount: 3 });
    writeFileSync(
      path.join(dir, '0006_invoices.ts'),
      migrationSource([
        "op.addColumn('invoices', 'amount_cents', { type: 'bigint', nullable: true, up: 'amount * 100' })",
        "op.alterColumn('invoices', 'amount', { type: 'numeric(12,2)', up: 'amount', down: 'amount' })",
      ]),
    );
    expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
    const v6 = db.versionKnex(`${db.base}_0006_invoices`);
    // The new app writes amount alone: down gives the old column its value, from which up computes amount_cents.
    await v6('invoices').insert({ id: 2, amount: 7 });
    await db.knex('invoices').insert({ id: 3, amount: 4 });
    const rows = rowsOf<{ id: number; amount: string | number; amount_cents: string | number }>(
      await v6.raw('SELECT id, amount, amount_cents FROM invoices ORDER BY id'),
    );
    expect(rows.map((r) => [Number(r.id), Number(r.amount), Number(r.amount_cents)])).toEqual([
      [1, 3, 300],
      [2, 7, 700],
      [3, 4, 400],
    ]);
  });

  test("a dropped column whose down reads a column another operation's up fills gets it from that up, whatever the operations' order", async () => {
    for (const table of ['people', 'persons']) {
      await db.knex.raw(
        `CREATE TABLE ${table} (id integer PRIMARY KEY, first_name varchar(20) NOT NULL, last_name varchar(20) NOT NULL, display_name varchar(50) NOT NULL)`,
      );
    }
    const addFullName = (table: string) =>
      `op.addColumn('${table}', 'full_name', { type: 'varchar(50)', nullable: true, up: "concat(first_name, ' ', last_name)" })`;
    const dropDisplayName = (table: string) => `op.dropColumn('${table}', 'display_name', { down: 'full_name' })`;
    writeFileSync(
      path.join(dir, '0007_names.ts'),
      migrationSource([addFullName('people'), dropDisplayName('people'), dropDisplayName('persons'), addFullName('persons')]),
    );
    expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
    const v7 = db.versionKnex(`${db.base}_0007_names`);
    for (const table of ['people', 'persons']) {
      // The new app leaves full_name to the trigger's up; the old app's display_name comes from it.
      await v7(table).insert({ id: 1, first_name: 'Ann', last_name: 'Lee' });
      expect(await db.knex(table).where({ id: 1 }).first('full_name', 'display_name')).toEqual({
        full_name: 'Ann Lee',
        display_name: 'Ann Lee',
      });
    }
  });

  test("dropColumn's down fills the new app's inserts though the column has a default; the old app's stay as written", async () => {
    await db.knex.raw("CREATE TABLE tickets (id integer PRIMARY KEY, paid boolean NOT NULL, status varchar(10) NOT NULL DEFAULT 'new')");
    writeFileSync(
      path.join(dir, '0003_tickets.ts'),
      migrationSource(["op.dropColumn('tickets', 'status', { down: \"CASE WHEN paid THEN 'paid' ELSE 'new' END\" })"]),
    );
    expect((await cli('expand')).code).toBe(0);
    const v3 = db.versionKnex(`${db.base}_0003_tickets`);
    await v3('tickets').insert([
      { id: 1, paid: true },
      { id: 2, paid: false },
    ]);
    await db.knex('tickets').insert({ id: 3, paid: true, status: 'void' });
    const base = rowsOf<{ id: number; status: string }>(await db.knex.raw('SELECT id, status FROM tickets ORDER BY id'));
    expect(base.map((r) => [Number(r.id), r.status])).toEqual([
      [1, 'paid'],
      [2, 'new'],
      [3, 'void'],
    ]);
  });

  if (engine === 'mysql')
    test('an up that reads the AUTO_INCREMENT column, which the insert trigger sees as 0, is refused before anything changes', async () => {
      await db.knex.raw('CREATE TABLE members (id integer AUTO_INCREMENT PRIMARY KEY, name varchar(40) NOT NULL)');
      await db.knex.raw("INSERT INTO members (name) VALUES ('a'), ('b')");
      const file = path.join(dir, '0008_member_ref.ts');
      writeFileSync(
        file,
        migrationSource(["op.addColumn('members', 'ref', { type: 'varchar(20)', nullable: true, up: \"CONCAT('M-', id)\" })"]),
      );
      expect(outcome(await cli('expand'))).toEqual({
        code: 2,
        errors: [
          expect.stringMatching(/addColumn members\.ref: up reads id, the AUTO_INCREMENT column, which a MySQL\/MariaDB trigger sees as 0/),
        ],
      });
      expect((await inspect(db)).columns('members')).toEqual(['id', 'name']);
      // A string that holds the word is no read of the column.
      writeFileSync(
        file,
        migrationSource(["op.addColumn('members', 'ref', { type: 'varchar(20)', nullable: true, up: \"CONCAT('id-', name)\" })"]),
      );
      expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
      await db.knex('members').insert({ name: 'c' });
      expect(rowsOf<{ ref: string }>(await db.knex.raw('SELECT ref FROM members ORDER BY id')).map((r) => r.ref)).toEqual([
        'id-a',
        'id-b',
        'id-c',
      ]);
      expect(outcome(await cli('contract'))).toEqual({ code: 0, errors: [] });
    });

  /** A new-app insert through `migration`'s version schema, written as it is once contract has dropped the trigger (which stands aside). */
  const insertWithTriggerSilent = (migration: string, table: string, row: Record<string, unknown>) =>
    db.versionKnex(`${db.base}_${migration}`).transaction(async (trx) => {
      await trx.raw('SET @zmigrate_backfill = 1');
      await trx(table).insert(row);
      await trx.raw('SET @zmigrate_backfill = NULL');
    });

  if (engine === 'mysql')
    test('contract: rows the new app wrote without a NOT NULL column once the trigger was gone get its default, and the ALTER goes through', async () => {
      await db.knex.raw('CREATE TABLE carts (id integer PRIMARY KEY, total integer NOT NULL DEFAULT 0, qty integer NOT NULL)');
      await db.knex.raw('INSERT INTO carts VALUES (1, 5, 1)');
      writeFileSync(
        path.join(dir, '0010_carts.ts'),
        migrationSource([
          "op.alterColumn('carts', 'total', { type: 'bigint', up: 'total', down: 'total' })",
          "op.addColumn('carts', 'score', { type: 'integer', nullable: false, default: '5', up: 'qty * 2' })",
        ]),
      );
      expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
      // Contract drops the trigger before the ALTERs: an insert of the new app in between that leaves the
      // columns out is written as it would be then, with the trigger silent.
      await insertWithTriggerSilent('0010_carts', 'carts', { id: 2, qty: 3 });
      expect(outcome(await cli('contract'))).toEqual({ code: 0, errors: [] });
      const rows = rowsOf<Record<string, number | string>>(await db.knex.raw('SELECT id, total, qty, score FROM carts ORDER BY id'));
      expect(rows.map((r) => [r.id, r.total, r.qty, r.score].map(Number))).toEqual([
        [1, 5, 1, 2],
        [2, 0, 3, 5],
      ]);
    });

  if (engine === 'mysql')
    test('contract: filling the NULLs the new app left once the trigger was gone keeps ON UPDATE CURRENT_TIMESTAMP columns as they were', async () => {
      await db.knex.raw(
        "CREATE TABLE baskets (id integer PRIMARY KEY, total integer NOT NULL DEFAULT 0, qty integer NOT NULL, touched timestamp NOT NULL DEFAULT '2001-02-03 04:05:06' ON UPDATE CURRENT_TIMESTAMP)",
      );
      await db.knex.raw('INSERT INTO baskets (id, total, qty) VALUES (1, 5, 1)');
      writeFileSync(
        path.join(dir, '0012_baskets.ts'),
        migrationSource([
          "op.alterColumn('baskets', 'total', { type: 'bigint', up: 'total', down: 'total' })",
          "op.addColumn('baskets', 'score', { type: 'integer', nullable: false, default: '5', up: 'qty * 2' })",
        ]),
      );
      expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
      // As in the test above: inserts of the new app between the trigger's drop and the ALTERs.
      await insertWithTriggerSilent('0012_baskets', 'baskets', { id: 2, qty: 3 });
      expect(outcome(await cli('contract'))).toEqual({ code: 0, errors: [] });
      const rows = rowsOf<Record<string, number | string>>(
        await db.knex.raw("SELECT id, total, score, DATE_FORMAT(touched, '%Y-%m-%d %H:%i:%s') AS touched FROM baskets ORDER BY id"),
      );
      expect(rows.map((r) => [Number(r.id), Number(r.total), Number(r.score), r.touched])).toEqual([
        [1, 5, 2, '2001-02-03 04:05:06'],
        [2, 0, 5, '2001-02-03 04:05:06'],
      ]);
    });

  if (engine === 'mysql')
    test("contract: an insert of the new app during the replacing ALTER's online rebuild that leaves the column out gets its default", async () => {
      await db.knex.raw('CREATE TABLE receipts (id integer PRIMARY KEY, total integer NOT NULL DEFAULT 0, pad varchar(200) NOT NULL)');
      await db.knex.raw("INSERT INTO receipts SELECT seq, seq % 100, REPEAT('x', 200) FROM seq_1_to_200000");
      writeFileSync(
        path.join(dir, '0011_receipts.ts'),
        migrationSource(["op.alterColumn('receipts', 'total', { type: 'bigint', up: 'total', down: 'total' })"]),
      );
      expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
      const v11 = db.versionKnex(`${db.base}_0011_receipts`);
      const contract = cli('contract');
      // The ALTER under way (not waiting for its lock, not the instant form tried first): the table is being rebuilt.
      let rebuilding = false;
      for (const deadline = Date.now() + 60_000; !rebuilding && Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
        const [row] = rowsOf<{ n: number | string }>(
          await db.knex.raw(
            "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%CHANGE COLUMN%LOCK=NONE' AND STATE NOT LIKE 'Waiting%'",
          ),
        );
        rebuilding = Number(row.n) > 0;
      }
      expect(rebuilding).toBe(true);
      await v11('receipts').insert({ id: 0, pad: 'new' });
      expect(outcome(await contract)).toEqual({ code: 0, errors: [] });
      const [row] = rowsOf<{ total: number | string }>(await db.knex.raw('SELECT total FROM receipts WHERE id = 0'));
      expect(Number(row.total)).toBe(0);
    });

  if (engine === 'mysql')
    test('the UPDATE trigger is made before the INSERT one (a run stopped between them leaves inserted rows to the backfill)', async () => {
      await db.knex.raw('CREATE TABLE parcels (id integer PRIMARY KEY, weight integer NOT NULL)');
      const file = path.join(dir, '0009_parcels.ts');
      writeFileSync(file, migrationSource(["op.alterColumn('parcels', 'weight', { type: 'bigint', up: 'weight', down: 'weight' })"]));
      try {
        const plan = await cli('plan');
        expect(outcome(plan)).toEqual({ code: 0, errors: [] });
        const triggers = [...plan.stdout.matchAll(/CREATE TRIGGER IF NOT EXISTS \S+?_(bu|bi)` BEFORE (?:UPDATE|INSERT) ON /g)];
        expect(triggers.map((m) => m[1])).toEqual(['bu', 'bi']);
      } finally {
        unlinkSync(file);
      }
    });
});

describe("a user's BEFORE trigger that sets a column on PostgreSQL", () => {
  test("runs before zmigrate's: a column computed from the one it sets follows what it set", async () => {
    const db = await createTestDatabase('postgres');
    try {
      await db.knex.raw('CREATE TABLE visits (id integer PRIMARY KEY, hits integer NOT NULL, touched date)');
      await db.knex.raw("INSERT INTO visits VALUES (1, 1, '2020-01-01')");
      // Named like most such triggers, after zmigrate's prefix `_zm_` in byte order.
      await db.knex.raw(
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := '2030-06-15'; RETURN NEW; END $$",
      );
      await db.knex.raw('CREATE TRIGGER set_touched BEFORE INSERT OR UPDATE ON visits FOR EACH ROW EXECUTE FUNCTION touch()');
      const dir = migrationsDir({
        '0001_touched_year.ts': migrationSource([
          "op.addColumn('visits', 'touched_year', { type: 'integer', nullable: true, up: 'extract(year FROM touched)::integer' })",
        ]),
      });
      const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
      expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
      // The old app changes hits; the user's trigger sets touched; touched_year must be computed from that.
      await db.knex('visits').where({ id: 1 }).update({ hits: 2 });
      await db.knex('visits').insert({ id: 2, hits: 1 });
      const rows = rowsOf<{ id: number; touched_year: number }>(await db.knex.raw('SELECT id, touched_year FROM visits ORDER BY id'));
      expect(rows.map((r) => [Number(r.id), Number(r.touched_year)])).toEqual([
        [1, 2030],
        [2, 2030],
      ]);
      expect(outcome(await cli('contract'))).toEqual({ code: 0, errors: [] });
      expect((await inspect(db)).triggers).toEqual(['set_touched']);
    } finally {
      await db.drop();
    }
  });
});

describe('an old app whose search_path lists a schema of its own on PostgreSQL', () => {
  test('is still the old app: a column computed from the ones it changes follows its writes', async () => {
    const db = await createTestDatabase('postgres');
    try {
      // `public_api` begins like a version schema and sorts after `public_0002_…`, but no migration made it.
      await db.knex.raw('CREATE SCHEMA public_api');
      const dir = migrationsDir({ '0001_orders.ts': CREATE_ORDERS });
      const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
      expect((await cli('expand')).code).toBe(0);
      expect((await cli('contract')).code).toBe(0);
      await db.knex('orders').insert({ id: 1, customer: 'a', amount: 5 });
      writeFileSync(
        path.join(dir, '0002_priority.ts'),
        migrationSource([
          "op.addColumn('orders', 'priority', { type: 'integer', nullable: false, up: 'CASE WHEN amount >= 25 THEN 1 ELSE 0 END' })",
        ]),
      );
      expect((await cli('expand')).code).toBe(0);

      await db.knex.transaction(async (trx) => {
        await trx.raw('SET LOCAL search_path TO public, public_api');
        await trx('orders').where({ id: 1 }).update({ amount: 30 });
      });
      // Taken for the new app, its update would leave priority as the new app had "set" it: 0.
      const newApp = db.versionKnex(`${db.base}_0002_priority`);
      expect(rowsOf(await newApp.raw('SELECT amount, priority FROM orders WHERE id = 1'))).toEqual([{ amount: 30, priority: 1 }]);
    } finally {
      await db.drop();
    }
  });
});

describe("up and down under an app's search path on PostgreSQL", () => {
  test('an expression naming a type of the base schema without its schema is refused before anything changes; without the cast, the new app writes through', async () => {
    const db = await createTestDatabase('postgres');
    try {
      await db.knex.raw("CREATE TYPE order_status AS ENUM ('new', 'paid')");
      await db.knex.raw("CREATE TABLE orders (id bigint PRIMARY KEY, status order_status NOT NULL DEFAULT 'new')");
      await db.knex('orders').insert({ id: 1, status: 'new' });
      const dir = migrationsDir({
        '0001_status_text.ts': migrationSource([
          "op.alterColumn('orders', 'status', { type: 'text', up: 'status::text', down: 'status::order_status' })",
        ]),
      });
      const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
      const refused = await cli('expand');
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toContain(`fails where an app's search path is a version schema (type "order_status" does not exist)`);
      expect((await inspect(db)).columns('orders')).toEqual(['id', 'status']);

      writeFileSync(
        path.join(dir, '0001_status_text.ts'),
        migrationSource([
          // Text into the enum column: the trigger's assignment takes the text form, no cast needed (none to qualify).
          "op.alterColumn('orders', 'status', { type: 'text', up: 'status::text', down: 'status' })",
        ]),
      );
      expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
      const newApp = db.versionKnex(`${db.base}_0001_status_text`);
      await newApp('orders').insert({ id: 2, status: 'paid' });
      expect(rowsOf(await db.knex.raw('SELECT id, status::text AS status FROM orders ORDER BY id'))).toEqual([
        { id: '1', status: 'new' },
        { id: '2', status: 'paid' },
      ]);
    } finally {
      await db.drop();
    }
  });

  test('a sequence or a view of the base schema named without its schema is refused at expand; a table, which the version schema has a view of, is not', async () => {
    const db = await createTestDatabase('postgres');
    try {
      await db.knex.raw('CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL)');
      await db.knex.raw('CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL)');
      await db.knex.raw('CREATE SEQUENCE order_seq');
      await db.knex.raw('CREATE VIEW vip AS SELECT id FROM customers WHERE id < 10');
      await db.knex('customers').insert({ id: 1, name: 'Ann' });
      await db.knex('orders').insert({ id: 1, customer_id: 1 });
      const dir = migrationsDir({});
      const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
      const write = (operation: string) => writeFileSync(path.join(dir, '0001_orders.ts'), migrationSource([operation]));
      const before = await snapshot(db);
      for (const [up, object, qualified] of [
        ["nextval('order_seq')", 'order_seq', 'sequence "public"."order_seq"'],
        ['(SELECT count(*) FROM vip WHERE vip.id = customer_id)', 'vip', 'view "public"."vip"'],
      ]) {
        write(`op.addColumn('orders', 'ticket', { type: 'bigint', up: ${JSON.stringify(up)} })`);
        const refused = await cli('expand');
        expect(refused.code).toBe(2);
        expect(refused.stderr.trim().split('\n')).toHaveLength(1);
        expect(refused.stderr).toContain(
          `fails where an app's search path is a version schema (relation "${object}" does not exist: ${qualified}, and a version schema has a view of each table and nothing else)`,
        );
        expect(refused.stderr).toContain(`(name it with its schema: ${qualified.replace(/^\w+ /, '')})`);
        expect(await snapshot(db)).toEqual(before);
      }

      // A table's name resolves to its view in the version schema, as it does for the app.
      write(
        `op.addColumn('orders', 'customer_name', { type: 'text', up: '(SELECT name FROM customers WHERE customers.id = customer_id)' })`,
      );
      expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
      const newApp = db.versionKnex(`${db.base}_0001_orders`);
      await newApp('orders').insert({ id: 2, customer_id: 1 });
      expect(rowsOf(await newApp.raw('SELECT id, customer_name FROM orders ORDER BY id'))).toEqual([
        { id: '1', customer_name: 'Ann' },
        { id: '2', customer_name: 'Ann' },
      ]);
    } finally {
      await db.drop();
    }
  });
});

describe('up and down of the wrong type on PostgreSQL', () => {
  test("an up that does not fit the new column's type is refused before anything changes (the backfill would fail after the triggers were in)", async () => {
    const db = await createTestDatabase('postgres');
    try {
      await db.knex.raw('CREATE TABLE items (id bigint PRIMARY KEY, code text NOT NULL)');
      await db.knex('items').insert({ id: 1, code: '17' });
      const dir = migrationsDir({
        '0001_code_number.ts': migrationSource(["op.alterColumn('items', 'code', { type: 'integer', up: 'code', down: 'code::text' })"]),
      });
      const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
      const refused = await cli('expand');
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toContain(
        'expression "code" (for items._zm_code) cannot fill it: column "_zm_code" is of type integer but expression is of type text',
      );
      expect((await inspect(db)).columns('items')).toEqual(['id', 'code']);
      expect((await inspect(db)).triggers).toEqual([]);

      writeFileSync(
        path.join(dir, '0001_code_number.ts'),
        migrationSource(["op.alterColumn('items', 'code', { type: 'integer', up: 'code::integer', down: 'code::text' })"]),
      );
      expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
      expect(rowsOf(await db.versionKnex(`${db.base}_0001_code_number`).raw('SELECT id, code FROM items'))).toEqual([
        { id: '1', code: 17 },
      ]);
    } finally {
      await db.drop();
    }
  });
});

describe('alterColumn and what the new app leaves NULL or to the default, on PostgreSQL', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('postgres');
  });
  afterEach(async () => {
    await db.drop();
  });

  const cli = (dir: string, ...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });

  test('a column made nullable: the new app writes NULL, inserting and updating, and keeps it; the old column gets down(NULL)', async () => {
    await db.knex.raw('CREATE TABLE people (id bigint PRIMARY KEY, middle_name text NOT NULL)');
    await db.knex('people').insert({ id: 1, middle_name: 'Ann' });
    const dir = migrationsDir({
      '0001_optional.ts': migrationSource([
        `op.alterColumn('people', 'middle_name', { nullable: true, up: 'middle_name', down: "coalesce(middle_name, '')" })`,
      ]),
    });
    expect(outcome(await cli(dir, 'expand'))).toEqual({ code: 0, errors: [] });
    const newApp = db.versionKnex(`${db.base}_0001_optional`);
    await newApp('people').insert({ id: 2 });
    await newApp('people').where({ id: 1 }).update({ middle_name: null });
    await db.knex('people').insert({ id: 3, middle_name: 'Cy' });
    const seen = async (knex: typeof newApp) =>
      rowsOf<{ id: string; middle_name: string | null }>(await knex.raw('SELECT id, middle_name FROM people ORDER BY id'));
    expect(await seen(newApp)).toEqual([
      { id: '1', middle_name: null },
      { id: '2', middle_name: null },
      { id: '3', middle_name: 'Cy' },
    ]);
    expect(await seen(db.knex)).toEqual([
      { id: '1', middle_name: '' },
      { id: '2', middle_name: '' },
      { id: '3', middle_name: 'Cy' },
    ]);
    expect(outcome(await cli(dir, 'contract'))).toEqual({ code: 0, errors: [] });
    expect(await seen(db.knex)).toEqual([
      { id: '1', middle_name: null },
      { id: '2', middle_name: null },
      { id: '3', middle_name: 'Cy' },
    ]);
  });

  test("zmigrate backfill once expanded keeps the new app's NULLs: it verifies again and fills nothing the new app may have written", async () => {
    await db.knex.raw('CREATE TABLE people (id bigint PRIMARY KEY, middle_name text NOT NULL)');
    await db.knex('people').insert([
      { id: 1, middle_name: 'Ann' },
      { id: 4, middle_name: 'Dee' },
    ]);
    const dir = migrationsDir({
      '0001_optional.ts': migrationSource([
        `op.alterColumn('people', 'middle_name', { nullable: true, up: 'middle_name', down: "coalesce(middle_name, '')" })`,
      ]),
    });
    expect(outcome(await cli(dir, 'expand'))).toEqual({ code: 0, errors: [] });
    const newApp = db.versionKnex(`${db.base}_0001_optional`);
    await newApp('people').insert({ id: 2 });
    await newApp('people').where({ id: 1 }).update({ middle_name: null });
    await db.knex('people').insert({ id: 3, middle_name: 'Cy' });
    const seen = async () =>
      rowsOf<{ id: string; middle_name: string | null }>(await newApp.raw('SELECT id, middle_name FROM people ORDER BY id'));
    const written = [
      { id: '1', middle_name: null },
      { id: '2', middle_name: null },
      { id: '3', middle_name: 'Cy' },
      { id: '4', middle_name: 'Dee' },
    ];
    expect(await seen()).toEqual(written);

    const rerun = await cli(dir, 'backfill');
    expect(await seen()).toEqual(written);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout.trim()).toBe(
      "0001_optional: verified again; people.middle_name not filled again (the backfill finished at expand, and a NULL there may be the new app's)",
    );
    // A value other than up's is still a mismatch (written here behind the triggers' back).
    await db.knex.transaction(async (trx) => {
      await trx.raw('SET LOCAL session_replication_role = replica');
      await trx.raw(`UPDATE people SET "_zm_middle_name" = 'X' WHERE id = 4`);
    });
    const check = await cli(dir, 'backfill');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('people.middle_name (new) = up(old) where not NULL does not hold for rows with key 4');
    await newApp('people').where({ id: 4 }).update({ middle_name: 'Dee' });
    expect((await cli(dir, 'backfill')).code).toBe(0);
    expect(outcome(await cli(dir, 'contract'))).toEqual({ code: 0, errors: [] });
    expect(rowsOf(await db.knex.raw('SELECT id, middle_name FROM people ORDER BY id'))).toEqual(written);
  });

  test("a new default: the new app's inserts that leave the column out get it, the old app's the old one", async () => {
    await db.knex.raw("CREATE TABLE orders (id bigint PRIMARY KEY, status varchar(10) NOT NULL DEFAULT 'pending')");
    const dir = migrationsDir({
      '0001_status.ts': migrationSource([
        `op.alterColumn('orders', 'status', { type: 'text', default: "'new'", up: 'status', down: 'status' })`,
      ]),
    });
    expect(outcome(await cli(dir, 'expand'))).toEqual({ code: 0, errors: [] });
    await db.versionKnex(`${db.base}_0001_status`)('orders').insert({ id: 1 });
    await db.knex('orders').insert({ id: 2 });
    expect(rowsOf(await db.knex.raw('SELECT id, status FROM orders ORDER BY id'))).toEqual([
      { id: '1', status: 'new' },
      { id: '2', status: 'pending' },
    ]);
    expect(outcome(await cli(dir, 'contract'))).toEqual({ code: 0, errors: [] });
    await db.versionKnex(`${db.base}_0001_status`)('orders').insert({ id: 3 });
    expect(rowsOf(await db.knex.raw('SELECT id, status FROM orders WHERE id = 3'))).toEqual([{ id: '3', status: 'new' }]);
  });
});
