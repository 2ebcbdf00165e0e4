/**
 * renameTable, dropIndex, addUnique, addForeignKey and addCheck on real
 * servers. For each: an old-app writer (base tables, old names) runs through
 * expand and a new-app writer (latest version schema) joins after it; both
 * keep writing until contract, the new one through it. No write may fail,
 * each app must see the other's rows, and after contract the constraint is
 * there, valid and enforced (or the index gone, or the table renamed with the
 * version schema still working). Rollback, with the old app writing, must
 * leave no trace. Then the ways these operations refuse or stop: duplicates,
 * orphans, rows a CHECK rejects, MySQL/MariaDB's lack of an online CHECK,
 * bad input; and a foreign key and a unique index on the same columns. Last,
 * a user's own INSERT trigger keeps working through a migration that
 * backfills its table (the backfill's UPDATEs do fire UPDATE triggers).
 */
import { unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, SERVER_ENGINES, type Engine, type TestDatabase } from './support/databases';
import { applyMigrations, migrationSource, migrationsDir, outcome, runCli, type CliResult } from './support/cli';
import { retryViewSwap, rowsOf, startWriter, waitFor, type Knex, type Writer, queryRows as rows } from './support/apps';
import { inspect, snapshot } from './support/inspect';

const CUSTOMERS = 200;
const ORDERS = 2000;

const BASE = migrationSource([
  "op.createTable('customers', { columns: { id: { type: 'bigint', primaryKey: true }, email: { type: 'varchar(100)', nullable: false } } })",
  "op.createTable('orders', { columns: { id: { type: 'bigint', primaryKey: true }, customer_id: { type: 'bigint' }, amount: { type: 'integer', nullable: false, default: '1' }, ref: { type: 'varchar(40)' } } })",
  "op.createIndex('orders', ['ref'], { name: 'orders_ref_idx' })",
]);

type Row = Record<string, unknown>;

interface Ctx {
  db: TestDatabase;
  engine: Engine;
  /** The new app's connection (version schema of the migration under test). */
  v2: Knex;
}

interface Case {
  name: string;
  engines: Engine[];
  operation: string;
  /** What the new app calls the orders table. */
  newOrders?: string;
  /** Checks while both versions are live (after expand). */
  expanded(ctx: Ctx): Promise<void>;
  /** Checks after contract. */
  complete(ctx: Ctx): Promise<void>;
}

/** PostgreSQL: a constraint's type and whether it is validated. */
async function pgConstraint(db: TestDatabase, name: string): Promise<Row[]> {
  return rows(
    db.knex,
    "select c.contype as type, c.convalidated as valid from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = 'public' and c.conname = ?",
    [name],
  );
}

/** Every constraint of the base schema (inspect() does not list them). */
async function constraints(db: TestDatabase): Promise<string[]> {
  const found =
    db.engine === 'postgres'
      ? await rows(
          db.knex,
          "select c.conname || ':' || c.contype::text || ':' || c.convalidated::text as c from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = 'public'",
        )
      : await rows(
          db.knex,
          "select concat(table_name, ':', constraint_name, ':', constraint_type) as c from information_schema.table_constraints where table_schema = ? and table_name not like 'zmigrate\\_%'",
          [db.base],
        );
  return found.map((r) => String(r.c)).sort();
}

/** Everything a migration could leave behind, as plain data. */
async function trace(db: TestDatabase): Promise<unknown> {
  return { ...(await snapshot(db)), constraints: await constraints(db) };
}

/** A write the check orders_amount_positive refuses: PostgreSQL's words, then MariaDB's. */
const CHECK_FAILED = /check constraint|CONSTRAINT `orders_amount_positive` failed/i;

const rejects = async (write: Promise<unknown>, pattern: RegExp) => {
  await expect(write).rejects.toThrow(pattern);
};

const CASES: Case[] = [
  {
    name: 'rename_table',
    engines: SERVER_ENGINES,
    operation: "op.renameTable('orders', 'purchases')",
    newOrders: 'purchases',
    async expanded({ db, v2 }) {
      const state = await inspect(db);
      expect(state.tables.sort()).toEqual(['customers', 'orders']);
      expect(state.views(`${db.base}_0002_rename_table`).sort()).toEqual(['customers', 'purchases']);
      await expect(rows(v2, 'select count(*) as n from orders')).rejects.toThrow();
    },
    async complete({ db, v2 }) {
      const state = await inspect(db);
      // Gone under its old name from the base schema; the latest version schema still works.
      expect(state.tables.sort()).toEqual(['customers', 'purchases']);
      await rejects(db.knex.raw('select count(*) from orders'), /orders/);
      await v2('purchases').insert({ id: 9_000_001, customer_id: 1, amount: 3, ref: 'after' });
      await v2('purchases').where({ id: 9_000_001 }).update({ amount: 4 });
      expect(await rows(v2, 'select amount from purchases where id = 9000001')).toEqual([{ amount: 4 }]);
      expect(await rows(db.knex, 'select amount from purchases where id = 9000001')).toEqual([{ amount: 4 }]);
    },
  },
  {
    name: 'drop_index',
    engines: SERVER_ENGINES,
    operation: "op.dropIndex('orders', 'orders_ref_idx')",
    async expanded({ db }) {
      // Kept for the old app until contract.
      expect((await inspect(db)).indexes('orders')).toContain('orders_ref_idx');
    },
    async complete({ db }) {
      expect((await inspect(db)).indexes('orders')).not.toContain('orders_ref_idx');
    },
  },
  {
    name: 'add_unique',
    engines: SERVER_ENGINES,
    operation: "op.addUnique('customers', ['email'])",
    async expanded({ db, v2 }) {
      expect((await inspect(db)).indexes('customers')).toContain('customers_email_key');
      await rejects(db.knex('customers').insert({ id: 8_000_001, email: 'c1@example.com' }), /duplicate/i);
      await rejects(v2('customers').insert({ id: 8_000_002, email: 'c2@example.com' }), /duplicate/i);
    },
    async complete({ db, v2 }) {
      if (db.engine === 'postgres') {
        expect(await pgConstraint(db, 'customers_email_key')).toEqual([{ type: 'u', valid: true }]);
        expect(
          await rows(
            db.knex,
            "select indisvalid as valid, indisunique as uniq from pg_index where indexrelid = 'public.customers_email_key'::regclass",
          ),
        ).toEqual([{ valid: true, uniq: true }]);
      } else {
        expect(
          await rows(
            db.knex,
            "select distinct non_unique from information_schema.statistics where table_schema = ? and index_name = 'customers_email_key'",
            [db.base],
          ),
        ).toEqual([{ non_unique: 0 }]);
      }
      await rejects(v2('customers').insert({ id: 8_000_003, email: 'c3@example.com' }), /duplicate/i);
    },
  },
  {
    name: 'add_foreign_key',
    engines: SERVER_ENGINES,
    // The action in capitals, as SQL and knex write it (lower case is zmigrate's own spelling, used elsewhere).
    operation: "op.addForeignKey('orders', ['customer_id'], { references: { table: 'customers', columns: ['id'] }, onDelete: 'CASCADE' })",
    async expanded({ db, v2 }) {
      // Checked for new writes from expand on, from either app.
      await rejects(db.knex('orders').insert({ id: 8_000_001, customer_id: 999_999, amount: 1 }), /foreign key/i);
      await rejects(v2('orders').insert({ id: 8_000_002, customer_id: 999_999, amount: 1 }), /foreign key/i);
      if (db.engine === 'postgres') expect(await pgConstraint(db, 'orders_customer_id_fkey')).toEqual([{ type: 'f', valid: false }]);
    },
    async complete({ db, v2 }) {
      if (db.engine === 'postgres') expect(await pgConstraint(db, 'orders_customer_id_fkey')).toEqual([{ type: 'f', valid: true }]);
      else expect(await constraints(db)).toContain('orders:orders_customer_id_fkey:FOREIGN KEY');
      await rejects(v2('orders').insert({ id: 8_000_003, customer_id: 999_999, amount: 1 }), /foreign key/i);
      // on delete cascade
      await v2('customers').insert({ id: 7_000_001, email: 'doomed@example.com' });
      await v2('orders').insert({ id: 7_000_001, customer_id: 7_000_001, amount: 1 });
      await db.knex('customers').where({ id: 7_000_001 }).delete();
      expect(await rows(db.knex, 'select id from orders where id = 7000001')).toEqual([]);
    },
  },
  {
    name: 'add_check',
    engines: SERVER_ENGINES,
    operation: "op.addCheck('orders', 'orders_amount_positive', 'amount > 0')",
    async expanded({ db, v2 }) {
      // MariaDB: in place since the rebuild's swap, checked by the server as any constraint.
      if (db.engine === 'postgres') expect(await pgConstraint(db, 'orders_amount_positive')).toEqual([{ type: 'c', valid: false }]);
      else expect(await constraints(db)).toContain('orders:orders_amount_positive:CHECK');
      await rejects(db.knex('orders').insert({ id: 8_000_001, customer_id: 1, amount: 0 }), CHECK_FAILED);
      await rejects(v2('orders').where({ id: 1 }).update({ amount: -5 }), CHECK_FAILED);
    },
    async complete({ db, v2 }) {
      if (db.engine === 'postgres') expect(await pgConstraint(db, 'orders_amount_positive')).toEqual([{ type: 'c', valid: true }]);
      else expect(await constraints(db)).toContain('orders:orders_amount_positive:CHECK');
      await rejects(v2('orders').insert({ id: 8_000_002, customer_id: 1, amount: -1 }), CHECK_FAILED);
    },
  },
];

const RUNS = CASES.flatMap((c) => c.engines.map((engine) => [c.name, engine, c] as const));

describe.each(RUNS)('%s on %s', (_name, engine, c) => {
  let db: TestDatabase;
  let dir: string;
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
  const schema = () => `${db.base}_0002_${c.name}`;
  const newOrders = c.newOrders ?? 'orders';

  /** Order ids each app had acknowledged, to find them all in both views. */
  let inserted: number[] = [];
  beforeEach(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({ '0001_base.ts': BASE });
    await applyMigrations(db.url, dir);
    const customers = Array.from({ length: CUSTOMERS }, (_, i) => ({ id: i + 1, email: `c${i + 1}@example.com` }));
    await db.knex('customers').insert(customers);
    const orders = Array.from({ length: ORDERS }, (_, i) => ({
      id: i + 1,
      customer_id: 1 + (i % CUSTOMERS),
      amount: 1 + (i % 50),
      ref: `r${i + 1}`,
    }));
    for (let i = 0; i < orders.length; i += 500) await db.knex('orders').insert(orders.slice(i, i + 500));
    inserted = [];
    viewSwaps.length = 0;
    writeFileSync(path.join(dir, `0002_${c.name}.ts`), migrationSource([c.operation]));
  });
  afterEach(async () => {
    await db.drop();
  });

  /** MySQL/MariaDB view errors the new app met and retried (README, Known limitations); PostgreSQL must meet none. */
  const viewSwaps: string[] = [];

  /** Writes that meet every constraint under test: unique emails, existing customers, positive amounts. */
  const writer = (knex: Knex, orders: string, base: number): Writer =>
    startWriter(async (i) => {
      const id = base + i;
      if (i % 3 === 0) {
        await retryViewSwap(() => knex('customers').insert({ id, email: `w${id}@example.com` }), viewSwaps);
      } else if (i % 3 === 1) {
        await retryViewSwap(
          () => knex(orders).insert({ id, customer_id: 1 + (i % CUSTOMERS), amount: 1 + (i % 50), ref: `w${id}` }),
          viewSwaps,
        );
        inserted.push(id);
      } else {
        await retryViewSwap(
          () =>
            knex(orders)
              .where({ id: 1 + ((i * 13) % ORDERS) })
              .update({ amount: 1 + ((i * 7) % 50), ref: `u${id}` }),
          viewSwaps,
        );
      }
    });

  async function orderIds(knex: Knex, table: string): Promise<number[]> {
    return (await rows(knex, `select id from ${table} order by id`)).map((r) => Number(r.id));
  }

  test('both apps write through expand and until contract; afterwards the new shape holds', async () => {
    const old = writer(db.knex, 'orders', 1_000_000);
    await waitFor(() => old.stats.writes >= 10);
    const expand = await cli('expand');
    expect({ code: expand.code, stderr: expand.code === 0 ? '' : expand.stderr }).toEqual({ code: 0, stderr: '' });
    const v2 = db.versionKnex(schema());
    const neu = writer(v2, newOrders, 2_000_000);
    await waitFor(() => neu.stats.writes >= 30 && old.stats.writes >= 60);

    // Between expand and contract: each app sees every row either wrote.
    await c.expanded({ db, engine, v2 });
    const [o, n] = await Promise.all([old.stop(), neu.stop()]);
    expect(o.failures).toEqual([]);
    expect(n.failures).toEqual([]);
    const all = [...Array.from({ length: ORDERS }, (_, i) => i + 1), ...inserted].sort((a, b) => a - b);
    expect(await orderIds(db.knex, 'orders')).toEqual(all);
    expect(await orderIds(v2, newOrders)).toEqual(all);

    // The old app is gone; the new one keeps writing through contract.
    const neu2 = writer(v2, newOrders, 3_000_000);
    await waitFor(() => neu2.stats.writes >= 5);
    const contract = await cli('contract');
    expect({ code: contract.code, stderr: contract.code === 0 ? '' : contract.stderr }).toEqual({ code: 0, stderr: '' });
    await waitFor(() => neu2.stats.writes >= 25);
    expect((await neu2.stop()).failures).toEqual([]);
    if (engine === 'postgres') expect(viewSwaps).toEqual([]);
    const final = [...Array.from({ length: ORDERS }, (_, i) => i + 1), ...inserted].sort((a, b) => a - b);
    expect(await orderIds(v2, newOrders)).toEqual(final);
    expect(await orderIds(db.knex, newOrders)).toEqual(final);

    await c.complete({ db, engine, v2 });
    const state = await inspect(db);
    expect(state.triggers).toEqual([]);
    expect(state.versionSchemas).toEqual([schema()]);
  });

  test('rollback while the old app writes leaves no trace', async () => {
    const before = await trace(db);
    const old = writer(db.knex, 'orders', 1_000_000);
    await waitFor(() => old.stats.writes >= 10);
    expect((await cli('expand')).code).toBe(0);
    const neu = writer(db.versionKnex(schema()), newOrders, 2_000_000);
    await waitFor(() => neu.stats.writes >= 20 && old.stats.writes >= 40);
    await neu.stop();
    const rollback = await cli('rollback');
    expect({ code: rollback.code, stderr: rollback.code === 0 ? '' : rollback.stderr }).toEqual({ code: 0, stderr: '' });
    await waitFor(() => old.stats.writes >= 60);
    const o = await old.stop();
    expect(o.failures).toEqual([]);
    expect(await trace(db)).toEqual(before);
    const all = [...Array.from({ length: ORDERS }, (_, i) => i + 1), ...inserted].sort((a, b) => a - b);
    expect(await orderIds(db.knex, 'orders')).toEqual(all);
  });
});

describe.each(SERVER_ENGINES)('renameTable contract under a write storm on %s', (engine) => {
  let db: TestDatabase;
  afterEach(async () => {
    await db.drop();
  });

  /**
   * MySQL/MariaDB views name their table. The views are recreated on a bridge
   * view under the new name, then one RENAME TABLE swaps the table in, so
   * only a statement that queued behind that RENAME's locks can still fail
   * (errno 1356): about a quarter as many as when the views were recreated
   * after the rename. The writers retry those as the README advises; no
   * write may fail or be lost, and on PostgreSQL none may even be retried.
   */
  test('writers with no pause between statements lose nothing', async () => {
    db = await createTestDatabase(engine);
    const dir = migrationsDir({ '0001_base.ts': BASE });
    const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
    await applyMigrations(db.url, dir);
    writeFileSync(path.join(dir, '0002_rename.ts'), migrationSource(["op.renameTable('orders', 'purchases')"]));
    expect((await cli('expand')).code).toBe(0);
    const v2 = db.versionKnex(`${db.base}_0002_rename`);
    const acknowledged: number[] = [];
    const retried: string[] = [];
    const writers = [0, 1, 2, 3].map((w) =>
      startWriter(
        async (i) => {
          const id = 1_000_000 * (w + 1) + i;
          await retryViewSwap(() => v2('purchases').insert({ id, customer_id: 1, amount: 1, ref: `s${id}` }), retried);
          acknowledged.push(id);
          await retryViewSwap(() => v2('purchases').where({ id }).update({ amount: 2 }), retried);
        },
        { pauseMs: 0 },
      ),
    );
    await waitFor(() => writers.every((w) => w.stats.writes >= 20));
    const contract = await cli('contract');
    expect({ code: contract.code, stderr: contract.code === 0 ? '' : contract.stderr }).toEqual({ code: 0, stderr: '' });
    const seen = writers.map((w) => w.stats.writes);
    await waitFor(() => writers.every((w, i) => w.stats.writes >= seen[i] + 20));
    const stopped = await Promise.all(writers.map((w) => w.stop()));
    expect(stopped.flatMap((s) => s.failures)).toEqual([]);
    if (engine === 'postgres') expect(retried).toEqual([]);
    const stored = (await rows(db.knex, 'select id, amount from purchases order by id')).map((r) => [Number(r.id), Number(r.amount)]);
    expect(stored).toEqual(acknowledged.sort((a, b) => a - b).map((id) => [id, 2]));
    expect((await inspect(db)).tables.sort()).toEqual(['customers', 'purchases']);
    // The bridge view is gone.
    expect(await rows(db.knex, 'select table_name from information_schema.views where table_schema = ?', [db.base])).toEqual([]);
  });
});

describe.each(SERVER_ENGINES)('refusals, stops and combinations on %s', (engine) => {
  let db: TestDatabase;
  let dir: string;
  const cli = (...args: string[]): Promise<CliResult> => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
  const add = (name: string, operations: string[]) => writeFileSync(path.join(dir, `${name}.ts`), migrationSource(operations));
  const phases = async () =>
    (JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<{ name: string; phase: string }> }).migrations.map(
      (m) => m.phase,
    );

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({ '0001_base.ts': BASE });
    await applyMigrations(db.url, dir);
    await db.knex('customers').insert(Array.from({ length: 20 }, (_, i) => ({ id: i + 1, email: `c${i + 1}@example.com` })));
    await db
      .knex('orders')
      .insert(Array.from({ length: 50 }, (_, i) => ({ id: i + 1, customer_id: 1 + (i % 20), amount: 1 + i, ref: `r${i + 1}` })));
  });
  afterEach(async () => {
    await db.drop();
  });

  test('addUnique over duplicates: expand names one and leaves no index behind; without them it goes through', async () => {
    await db.knex('customers').insert({ id: 100, email: 'c7@example.com' });
    add('0002_unique_email', ["op.addUnique('customers', ['email'])"]);
    const expand = await cli('expand');
    expect(expand.code).toBe(1);
    expect(expand.stderr).toMatch(/duplicate/i);
    expect(expand.stderr).toContain('c7@example.com');
    // PostgreSQL's failed concurrent build left an invalid index that would refuse duplicates: it is gone.
    expect((await inspect(db)).indexes('customers')).not.toContain('customers_email_key');
    await db.knex('customers').insert({ id: 101, email: 'c7@example.com' });

    await db.knex('customers').whereIn('id', [100, 101]).delete();
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    if (engine === 'postgres') expect(await pgConstraint(db, 'customers_email_key')).toEqual([{ type: 'u', valid: true }]);
    await rejects(db.knex('customers').insert({ id: 102, email: 'c7@example.com' }), /duplicate/i);
  });

  test('addUnique over duplicates, then rollback: no trace', async () => {
    const before = await trace(db);
    await db.knex('customers').insert({ id: 100, email: 'c7@example.com' });
    add('0002_unique_email', ["op.addUnique('customers', ['email'])"]);
    expect((await cli('expand')).code).toBe(1);
    expect((await cli('rollback')).code).toBe(0);
    await db.knex('customers').where({ id: 100 }).delete();
    expect(await trace(db)).toEqual(before);
    expect(await phases()).toEqual(['complete', 'rolled back']);
  });

  test('addForeignKey over orphans: expand names them; once they are gone it resumes and contract validates', async () => {
    await db.knex('orders').insert([
      { id: 501, customer_id: 9999, amount: 1 },
      { id: 502, customer_id: 8888, amount: 1 },
      { id: 503, customer_id: null, amount: 1 }, // MATCH SIMPLE: references nothing, not an orphan
    ]);
    add('0002_orders_customer', [
      "op.addForeignKey('orders', ['customer_id'], { references: { table: 'customers', columns: ['id'] }, name: 'orders_customer_fk' })",
    ]);
    const expand = await cli('expand');
    expect(expand.code).toBe(1);
    expect(expand.stderr).toContain(
      'verification failed: orders (customer_id) references customers (id) does not hold for rows with key 501, 502',
    );
    // The key is in place for new writes meanwhile.
    await rejects(db.knex('orders').insert({ id: 504, customer_id: 7777, amount: 1 }), /foreign key/i);
    await db.knex('orders').insert({ id: 505, customer_id: 3, amount: 1 });
    expect((await cli('contract')).code).toBe(2);

    await db.knex('orders').whereIn('id', [501, 502]).delete();
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    if (engine === 'postgres') expect(await pgConstraint(db, 'orders_customer_fk')).toEqual([{ type: 'f', valid: true }]);
    else expect(await constraints(db)).toContain('orders:orders_customer_fk:FOREIGN KEY');
  });

  test("alterColumn carries the column's comment over, quote and backslash as they were", async () => {
    const comment = "the customer's total, in cents (C:\\ledger)";
    // Neither engine takes a binding in DDL: the literal as each reads it by default.
    const sql = comment.replace(/'/g, "''");
    await db.knex.raw(
      engine === 'postgres'
        ? `COMMENT ON COLUMN orders.amount IS '${sql}'`
        : `ALTER TABLE orders MODIFY COLUMN amount integer NOT NULL DEFAULT 1 COMMENT '${sql.replace(/\\/g, '\\\\')}'`,
    );
    const described = async () =>
      rowsOf<{ type: string; comment: string | null }>(
        await db.knex.raw(
          engine === 'postgres'
            ? "SELECT format_type(atttypid, atttypmod) AS type, col_description(attrelid, attnum) AS comment FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'amount'"
            : "SELECT DATA_TYPE AS type, COLUMN_COMMENT AS comment FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'amount'",
        ),
      );
    expect(await described()).toEqual([{ type: engine === 'postgres' ? 'integer' : 'int', comment }]);
    add('0002_widen', ["op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })"]);
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    expect(await described()).toEqual([{ type: 'bigint', comment }]);
  });

  test('addCheck over a row it rejects: expand names the row and stops (on MariaDB before its rebuild begins); once fixed it resumes', async () => {
    add('0002_amount_positive', ["op.addCheck('orders', 'orders_amount_positive', 'amount > 0')"]);
    await db.knex('orders').where({ id: 7 }).update({ amount: 0 });
    const before = await trace(db);
    const expand = await cli('expand');
    expect(expand.code).toBe(1);
    expect(expand.stderr).toContain('check orders_amount_positive (amount > 0) does not hold for rows with key 7');
    const status = JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<{ phase: string; error: string | null }> };
    expect(status.migrations[1]).toMatchObject({ phase: 'expanding', error: expect.stringContaining('rows with key 7') });
    // PostgreSQL added the check NOT VALID already; MariaDB has not begun the rebuild: no shadow, no trigger, no check.
    if (engine === 'mysql') expect(await trace(db)).toEqual(before);
    await db.knex('orders').where({ id: 7 }).update({ amount: 1 });
    expect((await cli('expand')).code).toBe(0);
    await rejects(db.knex('orders').insert({ id: 900, customer_id: 1, amount: 0 }), CHECK_FAILED);
    expect((await inspect(db)).tables.sort()).toEqual(['customers', 'orders']);
    expect((await cli('contract')).code).toBe(0);
    if (engine === 'postgres') expect(await pgConstraint(db, 'orders_amount_positive')).toEqual([{ type: 'c', valid: true }]);
    else expect(await constraints(db)).toContain('orders:orders_amount_positive:CHECK');
    await rejects(db.knex('orders').where({ id: 7 }).update({ amount: -1 }), CHECK_FAILED);
  });

  test('addCheck over a row it rejects, then rollback: no trace', async () => {
    await db.knex('orders').where({ id: 7 }).update({ amount: 0 });
    const before = await trace(db);
    add('0002_amount_positive', ["op.addCheck('orders', 'orders_amount_positive', 'amount > 0')"]);
    expect((await cli('expand')).code).toBe(1);
    expect((await cli('rollback')).code).toBe(0);
    expect(await trace(db)).toEqual(before);
    expect(await phases()).toEqual(['complete', 'rolled back']);
  });

  test('addCheck and a backfilled addColumn on the same table: on MariaDB one rebuild carries both; rollback drops the check', async () => {
    const before = await trace(db);
    add('0002_check_and_label', [
      "op.addCheck('orders', 'orders_amount_positive', 'amount > 0')",
      `op.addColumn('orders', 'label', { type: 'varchar(40)', up: ${JSON.stringify(engine === 'postgres' ? "'order ' || id" : "CONCAT('order ', id)")} })`,
    ]);
    const expand = await cli('expand');
    expect({ code: expand.code, stderr: expand.code === 0 ? '' : expand.stderr }).toEqual({ code: 0, stderr: '' });
    if (engine === 'mysql') expect([...expand.stderr.matchAll(/copy orders into/g)]).toHaveLength(1);
    const v2 = db.versionKnex(`${db.base}_0002_check_and_label`);
    expect(await rows(v2, 'select label from orders where id = 7')).toEqual([{ label: 'order 7' }]);
    await rejects(db.knex('orders').insert({ id: 900, customer_id: 1, amount: 0, ref: 'x' }), CHECK_FAILED);
    await db.knex('orders').insert({ id: 901, customer_id: 1, amount: 5, ref: 'ok' });
    expect(await rows(v2, 'select label from orders where id = 901')).toEqual([{ label: 'order 901' }]);
    await rejects(v2('orders').where({ id: 901 }).update({ amount: 0 }), CHECK_FAILED);
    const rollback = await cli('rollback');
    expect({ code: rollback.code, stderr: rollback.code === 0 ? '' : rollback.stderr }).toEqual({ code: 0, stderr: '' });
    await db.knex('orders').where({ id: 901 }).delete();
    expect(await trace(db)).toEqual(before);
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    await rejects(db.knex('orders').insert({ id: 902, customer_id: 1, amount: -3, ref: 'x' }), CHECK_FAILED);
  });

  /**
   * The pending addCheck of orders_amount_positive expands on PostgreSQL; on MySQL/MariaDB it is refused, in one
   * line naming `why` the table cannot be rebuilt online, before anything changes.
   */
  const expandRefusedOnMysql = async (why: string) => {
    const before = await trace(db);
    const expand = await cli('expand');
    if (engine === 'postgres') {
      expect(expand.code).toBe(0);
      return;
    }
    expect(expand.code).toBe(2);
    expect(expand.stderr).toContain(
      `addCheck orders_amount_positive: MySQL/MariaDB can add it only by rebuilding orders online (a copy and a swap), which zmigrate cannot do here: ${why}`,
    );
    expect(expand.stderr.trim().split('\n')).toHaveLength(1);
    expect(await trace(db)).toEqual(before);
    expect(await phases()).toEqual(['complete', 'pending']);
  };

  test('addCheck and a setNotNull on the same table: refused on MySQL/MariaDB before anything changes (setNotNull fills in place)', async () => {
    add('0002_check_and_not_null', [
      "op.addCheck('orders', 'orders_amount_positive', 'amount > 0')",
      "op.setNotNull('orders', 'ref', { up: 'id' })",
    ]);
    await expandRefusedOnMysql('setNotNull fills its NULLs in place');
  });

  test('addCheck on a table a rebuild cannot take (a trigger of its own): refused on MySQL/MariaDB before anything changes', async () => {
    await db.knex.raw(
      engine === 'postgres'
        ? "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'"
        : 'CREATE TRIGGER orders_touch BEFORE INSERT ON orders FOR EACH ROW SET NEW.ref = COALESCE(NEW.ref, NEW.id)',
    );
    if (engine === 'postgres')
      await db.knex.raw('CREATE TRIGGER orders_touch BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION touch()');
    add('0002_amount_positive', ["op.addCheck('orders', 'orders_amount_positive', 'amount > 0')"]);
    await expandRefusedOnMysql('it has triggers (orders_touch)');
  });

  test.each([
    [
      'the foreign key first',
      ["op.addForeignKey('orders', ['ref'], { references: { table: 'refs', columns: ['code'] } })", "op.addUnique('orders', ['ref'])"],
    ],
    [
      'the unique index first',
      ["op.addUnique('orders', ['ref'])", "op.addForeignKey('orders', ['ref'], { references: { table: 'refs', columns: ['code'] } })"],
    ],
  ])(
    'a foreign key and a unique index on the same columns, %s: expand, rollback, no trace; expand, contract',
    async (_order, operations) => {
      // InnoDB would silently drop an index it made for the key once another index can serve, and then refuse to drop that one.
      await db.knex.raw(engine === 'postgres' ? 'DROP INDEX orders_ref_idx' : 'DROP INDEX orders_ref_idx ON orders');
      await db.knex.raw('CREATE TABLE refs (code varchar(40) PRIMARY KEY)');
      await db.knex('refs').insert(Array.from({ length: 50 }, (_, i) => ({ code: `r${i + 1}` })));
      const before = await trace(db);
      add('0002_ref', operations);
      const expand = await cli('expand');
      expect({ code: expand.code, stderr: expand.code === 0 ? '' : expand.stderr }).toEqual({ code: 0, stderr: '' });
      const rollback = await cli('rollback');
      expect({ code: rollback.code, stderr: rollback.code === 0 ? '' : rollback.stderr }).toEqual({ code: 0, stderr: '' });
      expect(await trace(db)).toEqual(before);
      expect((await cli('expand')).code).toBe(0);
      expect((await cli('contract')).code).toBe(0);
      await rejects(db.knex('orders').insert({ id: 900, customer_id: 1, amount: 1, ref: 'nope' }), /foreign key/i);
      await rejects(db.knex('orders').insert({ id: 901, customer_id: 1, amount: 1, ref: 'r1' }), /duplicate/i);
    },
  );

  test.each([
    [
      "op.addForeignKey('orders', ['customer_id'], { references: { table: 'customers', columns: ['id'] }, onDelete: 'cascade; DROP TABLE customers' })",
      'onDelete must be one of',
    ],
    [
      "op.addForeignKey('orders', ['customer_id'], { references: { table: 'customers', columns: ['email'] } })",
      'neither its primary key nor covered by a unique index',
    ],
    ["op.addForeignKey('orders', ['customer_id'], { references: { table: 'nope', columns: ['id'] } })", 'unknown table "nope"'],
    ["op.addForeignKey('orders', ['customer_id', 'amount'], { references: { table: 'customers', columns: ['id'] } })", 'cannot reference'],
    ["op.dropIndex('orders', 'no_such_index')", 'unknown index "no_such_index" on table "orders"'],
    ["op.dropIndex('customers', 'orders_ref_idx')", 'is on table "orders", not on "customers"'],
    ["op.renameTable('orders', 'customers')", 'already exists'],
    ["op.renameTable('missing', 'x')", 'unknown table "missing"'],
    ["op.addUnique('customers', [])", 'non-empty list of columns'],
    ["op.addCheck('orders', 'c', 'amount > 0; DROP TABLE orders')", 'without semicolons'],
  ])('bad input is refused before anything changes: %s', async (operation, message) => {
    const before = await trace(db);
    add('0002_bad', [operation]);
    const expand = await cli('expand');
    expect(expand.code).toBe(2);
    expect(expand.stderr).toContain(message);
    expect(await trace(db)).toEqual(before);
  });

  test('dropColumn of a column in a unique index with other columns: dropped with it on PostgreSQL, refused on MySQL/MariaDB', async () => {
    await db.knex.raw('CREATE UNIQUE INDEX orders_customer_ref ON orders (customer_id, ref)');
    const before = await trace(db);
    add('0002_drop_ref', ["op.dropColumn('orders', 'ref')"]);
    const expand = await cli('expand');
    if (engine === 'mysql') {
      // MariaDB refuses to drop the column out of the index (contract would stop there); MySQL would shrink it.
      expect(outcome(expand)).toEqual({
        code: 2,
        errors: [expect.stringMatching(/dropColumn orders\.ref: the column is in unique index "orders_customer_ref" with other columns/)],
      });
      expect(await trace(db)).toEqual(before);
    } else {
      expect(outcome(expand)).toEqual({ code: 0, errors: [] });
      expect(outcome(await cli('contract'))).toEqual({ code: 0, errors: [] });
      expect((await inspect(db)).indexes('orders')).not.toContain('orders_customer_ref');
    }
  });

  test('index names: per table on MySQL/MariaDB, without case; per schema on PostgreSQL', async () => {
    // orders has orders_ref_idx (BASE).
    const before = await trace(db);
    add('0002_same_name', ["op.createIndex('orders', ['amount'], { name: 'ORDERS_REF_IDX' })"]);
    const sameTable = await cli('expand');
    if (engine === 'mysql') {
      expect(outcome(sameTable)).toEqual({ code: 2, errors: [expect.stringMatching(/index "ORDERS_REF_IDX" already exists/)] });
      expect(await trace(db)).toEqual(before);
      unlinkSync(path.join(dir, '0002_same_name.ts'));
    } else {
      // Another name to PostgreSQL, which keeps the case of a quoted name.
      expect(outcome(sameTable)).toEqual({ code: 0, errors: [] });
    }
    if (engine === 'mysql') {
      add('0002_other_table', ["op.createIndex('customers', ['email'], { name: 'orders_ref_idx' })"]);
      expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
      expect((await inspect(db)).indexes('customers')).toContain('orders_ref_idx');
    } else {
      add('0003_other_table', ["op.createIndex('customers', ['email'], { name: 'orders_ref_idx' })"]);
      expect(outcome(await cli('expand'))).toEqual({ code: 2, errors: [expect.stringMatching(/index "orders_ref_idx" already exists/)] });
    }
  });
});

describe.each(SERVER_ENGINES)('a user trigger on %s', (engine) => {
  let db: TestDatabase;
  let dir: string;
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
  const ACCOUNTS = 1500;

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({});
    // An existing schema zmigrate adopts: a table with an audit trigger on INSERT.
    await db.knex.raw('CREATE TABLE accounts (id integer PRIMARY KEY, name varchar(100) NOT NULL, balance integer NOT NULL)');
    await db.knex.raw(
      engine === 'postgres'
        ? 'CREATE TABLE account_audit (seq serial PRIMARY KEY, account_id integer NOT NULL, balance bigint)'
        : 'CREATE TABLE account_audit (seq integer AUTO_INCREMENT PRIMARY KEY, account_id integer NOT NULL, balance bigint)',
    );
    if (engine === 'postgres') {
      await db.knex.raw(
        'CREATE FUNCTION audit_account() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO account_audit (account_id, balance) VALUES (NEW.id, NEW.balance); RETURN NEW; END $$',
      );
      await db.knex.raw('CREATE TRIGGER accounts_audit AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION audit_account()');
    } else {
      await db.knex.raw(
        'CREATE TRIGGER accounts_audit AFTER INSERT ON accounts FOR EACH ROW INSERT INTO account_audit (account_id, balance) VALUES (NEW.id, NEW.balance)',
      );
    }
    const seed = Array.from({ length: ACCOUNTS }, (_, i) => ({ id: i + 1, name: `a${i + 1}`, balance: i }));
    for (let i = 0; i < seed.length; i += 500) await db.knex('accounts').insert(seed.slice(i, i + 500));
  });
  afterEach(async () => {
    await db.drop();
  });

  /**
   * The backfill's UPDATEs fire the user's UPDATE triggers (once per
   * backfilled row, on both engines), so only an INSERT trigger can be shown
   * here to fire exactly once per application write.
   */
  async function throughMigration(alter: string): Promise<void> {
    writeFileSync(
      path.join(dir, '0001_reshape.ts'),
      migrationSource(["op.addColumn('accounts', 'name_upper', { type: 'varchar(100)', up: 'upper(name)' })", alter]),
    );
    const audited = async () =>
      rowsOf<{ account_id: number | string; balance: number | string }>(
        await db.knex.raw('SELECT account_id, balance FROM account_audit ORDER BY seq'),
      );
    expect(await audited()).toHaveLength(ACCOUNTS);

    /** Each acknowledged insert: id, balance, and whether it overlapped contract. */
    const inserts: Array<{ id: number; balance: number; duringContract: boolean }> = [];
    let phase: 'live' | 'contract' | 'after' = 'live';
    const insert = async (knex: Knex, row: { id: number; name: string; name_upper?: string; balance: number }) => {
      const at = phase;
      await retryViewSwap(() => knex('accounts').insert(row));
      inserts.push({ id: row.id, balance: row.balance, duringContract: at !== phase || at === 'contract' });
    };
    const old = startWriter((i) => insert(db.knex, { id: 100_000 + i, name: `old${i}`, balance: i }));
    await waitFor(() => old.stats.writes >= 5);
    const expand = await cli('expand');
    expect({ code: expand.code, stderr: expand.code === 0 ? '' : expand.stderr }).toEqual({ code: 0, stderr: '' });
    const v2 = db.versionKnex(`${db.base}_0001_reshape`);
    const neu = startWriter((i) => insert(v2, { id: 200_000 + i, name: `new${i}`, name_upper: `NEW${i}`, balance: 1000 + i }));
    await waitFor(() => old.stats.writes >= 40 && neu.stats.writes >= 20);
    expect((await old.stop()).failures).toEqual([]);
    phase = 'contract';
    const contract = await cli('contract');
    phase = 'after';
    expect({ code: contract.code, stderr: contract.code === 0 ? '' : contract.stderr }).toEqual({ code: 0, stderr: '' });
    const after = neu.stats.writes;
    await waitFor(() => neu.stats.writes >= after + 20 || neu.stats.failures.length > 0);
    expect((await neu.stop()).failures).toEqual([]);
    await insert(v2, { id: 300_000, name: 'last', name_upper: 'LAST', balance: 7 });

    // The backfill updated every seeded row; the INSERT trigger fired once per insert, and only then.
    const rowsAudited = await audited();
    expect(rowsAudited).toHaveLength(ACCOUNTS + inserts.length);
    const seen = new Map<number, number[]>();
    for (const r of rowsAudited.slice(ACCOUNTS))
      seen.set(Number(r.account_id), [...(seen.get(Number(r.account_id)) ?? []), Number(r.balance)]);
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(inserts.map((w) => w.id).sort((a, b) => a - b));
    const wrong = inserts.filter((w) => seen.get(w.id)![0] !== w.balance).map((w) => ({ ...w, audited: seen.get(w.id)![0] }));
    if (engine === 'postgres') {
      expect(wrong).toEqual([]);
    } else {
      // Known problem on MySQL/MariaDB: between the dual-write trigger's drop and
      // the column swap of alterColumn's contract, a new-app insert leaves the old
      // column at its placeholder default (0), and that is what the user's
      // trigger reads. The row itself ends right; only writes during contract.
      expect(wrong.filter((w) => !w.duringContract || w.audited !== 0)).toEqual([]);
    }
    const stored = rowsOf<{ id: number | string; balance: number | string }>(
      await db.knex.raw('SELECT id, balance FROM accounts WHERE id >= 100000'),
    );
    expect(stored.map((r) => [Number(r.id), Number(r.balance)]).sort((a, b) => a[0] - b[0])).toEqual(
      inserts.map((w) => [w.id, w.balance]).sort((a, b) => a[0] - b[0]),
    );
    const state = await inspect(db);
    expect(state.triggers).toEqual(['accounts_audit']);
    expect([...state.columns('accounts')].sort()).toEqual(['balance', 'id', 'name', 'name_upper']);
  }

  test('keeps auditing every insert, once, through a backfilled addColumn and an alterColumn of a column it reads', async () => {
    await throughMigration("op.alterColumn('accounts', 'balance', { default: '0', up: 'balance', down: 'balance' })");
  });

  // PostgreSQL: a PL/pgSQL trigger function keeps, per session, the plan it made
  // for NEW.balance as integer; contract makes every session recompile it.
  test('keeps auditing through an alterColumn that changes the type of a column it reads', async () => {
    await throughMigration("op.alterColumn('accounts', 'balance', { type: 'bigint', up: 'balance', down: 'balance' })");
  });
});
