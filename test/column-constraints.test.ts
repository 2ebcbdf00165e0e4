/**
 * alterColumn of a column its own foreign keys use: the keys are built again
 * on the new column (after the backfill, once the verification found every
 * new value's parent: NOT VALID on PostgreSQL, in place without checking the
 * rows on MySQL/MariaDB), validated at contract on PostgreSQL, and take the
 * old names once the old column has gone, keeping what they do on delete.
 * Writes of both apps go on throughout; a new value without a parent stops
 * expand naming its row; rollback leaves the old keys alone. Keys zmigrate
 * cannot write again the same, and on MySQL/MariaDB a new type the
 * referenced column does not match, are refused before anything changes.
 * dropColumn of such a column drops its keys with it (InnoDB refuses to drop
 * a column a key uses), and refuses a column another table's key references.
 * Checks on an altered column are carried over the same way on PostgreSQL
 * (their condition rewritten for the new column); MySQL/MariaDB, which
 * cannot add a check online, refuse them. A UNIQUE constraint on it is one
 * again after contract. On PostgreSQL, another table's foreign key to the
 * column is pointed at the new column (its rebuilt unique index) the same way.
 */
import { createTestDatabase, SERVER_ENGINES, type Engine, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli, type CliResult } from './support/cli';
import { deployUnderLoad, retryViewSwap, rowsOf, startWriter, waitFor, queryRows as rows } from './support/apps';
import { inspect } from './support/inspect';
import { killedAlong as killedAlongIn } from './support/process';

const ORDERS = 3000;
const CUSTOMERS = 100;

type Row = Record<string, unknown>;

const PG_ON_DELETE: Record<string, string> = { a: 'no action', r: 'restrict', c: 'cascade', n: 'set null' };

/** A table's foreign keys, on either engine: `name (columns) -> parent (columns) on delete <action>`, and `(not valid)` where so. */
async function foreignKeys(db: TestDatabase, table: string): Promise<string[]> {
  const found =
    db.engine === 'postgres'
      ? await rows(
          db.knex,
          `select k.conname as name, r.relname as parent, k.confdeltype::text as del, k.convalidated as valid,
                  array_to_string(array(select a.attname from unnest(k.conkey) with ordinality u(n, i)
                    join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n order by u.i), ', ') as cols,
                  array_to_string(array(select a.attname from unnest(k.confkey) with ordinality u(n, i)
                    join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n order by u.i), ', ') as refs
             from pg_constraint k join pg_class r on r.oid = k.confrelid
            where k.conrelid = ?::regclass and k.contype = 'f'`,
          [table],
        )
      : await rows(
          db.knex,
          `select k.CONSTRAINT_NAME as name, k.REFERENCED_TABLE_NAME as parent, r.DELETE_RULE as del, 1 as valid,
                  group_concat(k.COLUMN_NAME order by k.ORDINAL_POSITION separator ', ') as cols,
                  group_concat(k.REFERENCED_COLUMN_NAME order by k.ORDINAL_POSITION separator ', ') as refs
             from information_schema.KEY_COLUMN_USAGE k
             join information_schema.REFERENTIAL_CONSTRAINTS r
               on r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA and r.CONSTRAINT_NAME = k.CONSTRAINT_NAME and r.TABLE_NAME = k.TABLE_NAME
            where k.TABLE_SCHEMA = database() and k.TABLE_NAME = ? and k.REFERENCED_TABLE_NAME is not null
            group by k.CONSTRAINT_NAME, k.REFERENCED_TABLE_NAME, r.DELETE_RULE`,
          [table],
        );
  return found
    .map((k) => {
      const action = db.engine === 'postgres' ? PG_ON_DELETE[String(k.del)] : String(k.del).toLowerCase();
      return `${String(k.name)} (${String(k.cols)}) -> ${String(k.parent)} (${String(k.refs)}) on delete ${action}${k.valid === false ? ' (not valid)' : ''}`;
    })
    .sort();
}

async function columnType(db: TestDatabase, table: string, column: string): Promise<string> {
  const [row] =
    db.engine === 'postgres'
      ? await rows(
          db.knex,
          'select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = ?::regclass and attname = ? and not attisdropped',
          [table, column],
        )
      : await rows(
          db.knex,
          'select COLUMN_TYPE as t from information_schema.COLUMNS where TABLE_SCHEMA = database() and TABLE_NAME = ? and COLUMN_NAME = ?',
          [table, column],
        );
  return String(row?.t);
}

// orders.customer_id becomes a bigint that may be NULL (on MySQL/MariaDB it is a bigint already: InnoDB wants the
// type of the column it references); order_lines.product, second in its key, a longer string.
const WIDEN = migrationSource([
  "op.alterColumn('orders', 'customer_id', { type: 'bigint', nullable: true, up: 'customer_id', down: 'customer_id' })",
  "op.alterColumn('order_lines', 'product', { type: 'varchar(40)', up: 'product', down: 'product' })",
]);

describe.each(SERVER_ENGINES)('alterColumn and the foreign keys of its column on %s', (engine: Engine) => {
  const pg = engine === 'postgres';
  const restrict = pg ? 'no action' : 'restrict'; // what each engine reports for a key without ON DELETE
  let db: TestDatabase;

  const cli = (dir: string, ...args: string[]): Promise<CliResult> =>
    runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    await db.knex.raw(`CREATE TABLE customers (id ${pg ? 'integer' : 'bigint'} PRIMARY KEY, name varchar(40) NOT NULL)`);
    await db.knex.raw('CREATE TABLE products (vendor integer NOT NULL, code varchar(20) NOT NULL, PRIMARY KEY (vendor, code))');
    await db.knex.raw(
      `CREATE TABLE orders (id integer PRIMARY KEY, customer_id ${pg ? 'integer' : 'bigint'} NOT NULL, amount integer NOT NULL, ` +
        'CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE)',
    );
    await db.knex.raw('CREATE INDEX orders_customer_idx ON orders (customer_id)');
    // A key of two columns, the altered one second: its columns keep their order. No index of its own on
    // MySQL/MariaDB, which make one named after the key.
    await db.knex.raw(
      'CREATE TABLE order_lines (id integer PRIMARY KEY, vendor integer NOT NULL, product varchar(20), ' +
        'CONSTRAINT line_product_fk FOREIGN KEY (vendor, product) REFERENCES products (vendor, code))',
    );
    if (pg) await db.knex.raw('CREATE INDEX line_product_idx ON order_lines (vendor, product)');
    const numbers = (n: number) => (pg ? `generate_series(1, ${n}) AS g(seq)` : `seq_1_to_${n}`);
    await db.knex.raw(`INSERT INTO customers (id, name) SELECT seq, CONCAT('c', seq) FROM ${numbers(CUSTOMERS)}`);
    await db.knex.raw(`INSERT INTO products (vendor, code) SELECT 1 + seq % 3, CONCAT('p', seq) FROM ${numbers(30)}`);
    await db.knex.raw(`INSERT INTO orders (id, customer_id, amount) SELECT seq, 1 + seq % ${CUSTOMERS}, seq FROM ${numbers(ORDERS)}`);
    await db.knex.raw(`INSERT INTO order_lines (id, vendor, product) SELECT seq, 1 + seq % 3, CONCAT('p', seq) FROM ${numbers(30)}`);
  });

  afterEach(async () => {
    await db.drop();
  });

  const originalKeys = {
    orders: [`orders_customer_fk (customer_id) -> customers (id) on delete cascade`],
    order_lines: [`line_product_fk (vendor, product) -> products (vendor, code) on delete ${restrict}`],
  };

  test('the keys are built on the new column, hold while both apps write, and take the old names at contract while the new app writes', async () => {
    const dir = migrationsDir({ '0001_widen.ts': WIDEN });
    await deployUnderLoad({
      run: (command) => cli(dir, command),
      newApp: () => db.versionKnex(`${db.base}_0001_widen`),
      oldWrite: async (i) => {
        await db.knex('orders').insert({ id: 100_000 + i, customer_id: 1 + (i % CUSTOMERS), amount: i });
        await db
          .knex('orders')
          .where({ id: 1 + ((i * 7) % ORDERS) })
          .update({ customer_id: 1 + ((i * 3) % CUSTOMERS) });
      },
      newWrite: async (app, i) => {
        await retryViewSwap(() => app('orders').insert({ id: 200_000 + i, customer_id: 1 + ((i * 11) % CUSTOMERS), amount: i }));
      },
      during: async (app, expand) => {
        expect(expand.stderr).toMatch(
          /verified orders\.customer_id \(new\) of foreign key "orders_customer_fk" references customers \(id\) on every row/,
        );
        const notValid = pg ? ' (not valid)' : '';
        expect(await foreignKeys(db, 'orders')).toEqual([
          `_zm_orders_customer_fk (_zm_customer_id) -> customers (id) on delete cascade${notValid}`,
          ...originalKeys.orders,
        ]);
        expect(await foreignKeys(db, 'order_lines')).toEqual([
          `_zm_line_product_fk (vendor, _zm_product) -> products (vendor, code) on delete ${restrict}${notValid}`,
          ...originalKeys.order_lines,
        ]);
        // A new app's write without a parent fails (on whichever of the two keys checks it first).
        await expect(app('orders').insert({ id: 300_000, customer_id: CUSTOMERS + 1, amount: 1 })).rejects.toThrow(
          /foreign key constraint/,
        );
        await expect(app('order_lines').insert({ id: 300_000, vendor: 1, product: 'nope' })).rejects.toThrow(/foreign key constraint/);
      },
    });
    expect(await foreignKeys(db, 'orders')).toEqual(originalKeys.orders);
    expect(await foreignKeys(db, 'order_lines')).toEqual(originalKeys.order_lines);
    expect(await columnType(db, 'orders', 'customer_id')).toBe(pg ? 'bigint' : 'bigint(20)');
    expect(await columnType(db, 'order_lines', 'product')).toBe(pg ? 'character varying(40)' : 'varchar(40)');
    // Still enforced, and still cascading.
    await expect(db.knex('orders').insert({ id: 400_000, customer_id: CUSTOMERS + 1, amount: 1 })).rejects.toThrow(/orders_customer_fk/);
    await db.knex('customers').where({ id: 7 }).delete();
    expect(rowsOf<Row>(await db.knex.raw('select count(*) as n from orders where customer_id = 7')).map((r) => Number(r.n))).toEqual([0]);
    expect(rowsOf<Row>(await db.knex.raw('select count(*) as n from orders where customer_id is null')).map((r) => Number(r.n))).toEqual([
      0,
    ]);
  });

  const killedAlong = (dir: string, command: string, lines: RegExp[], again?: () => Promise<unknown>) =>
    killedAlongIn(db.url, dir, command, lines, again);

  test('killed at each step that builds, swaps or drops the keys, a rerun finishes it', async () => {
    const dir = migrationsDir({ '0001_widen.ts': WIDEN });
    const expand = await killedAlong(
      dir,
      'expand',
      [/verify orders\.customer_id \(new\) of foreign key/, /add foreign key _zm_orders_customer_fk/],
      () => cli(dir, 'rollback'),
    );
    expect(expand.code).toBe(0);
    expect(await foreignKeys(db, 'orders')).toEqual([
      `_zm_orders_customer_fk (_zm_customer_id) -> customers (id) on delete cascade${pg ? ' (not valid)' : ''}`,
      ...originalKeys.orders,
    ]);
    const contractLines = pg
      ? [/validate _zm_orders_customer_fk/, /swap to the final shape/]
      : [/placeholder default for orders\.customer_id/, /replace column orders\.customer_id/, /rename foreign key _zm_orders_customer_fk/];
    expect((await killedAlong(dir, 'contract', contractLines)).code).toBe(0);
    expect(await foreignKeys(db, 'orders')).toEqual(originalKeys.orders);
    expect(await foreignKeys(db, 'order_lines')).toEqual(originalKeys.order_lines);
    // The widened column keeps its place on MySQL/MariaDB; PostgreSQL adds columns last.
    expect((await inspect(db)).columns('orders')).toEqual(pg ? ['id', 'amount', 'customer_id'] : ['id', 'customer_id', 'amount']);
  });

  test('rollback killed where it drops the new keys: a rerun finishes it and leaves the old keys alone', async () => {
    const dir = migrationsDir({ '0001_widen.ts': WIDEN });
    expect((await cli(dir, 'expand')).code).toBe(0);
    const rollback = await killedAlong(
      dir,
      'rollback',
      [/drop (foreign key|constraint) _zm_orders_customer_fk/, /drop column orders\._zm_customer_id/],
      () => cli(dir, 'expand'),
    );
    expect(rollback.code).toBe(0);
    expect(await foreignKeys(db, 'orders')).toEqual(originalKeys.orders);
    expect(await foreignKeys(db, 'order_lines')).toEqual(originalKeys.order_lines);
    expect((await inspect(db)).columns('orders')).toEqual(['id', 'customer_id', 'amount']);
  });

  test('rollback after expand leaves the old keys alone and no new one behind', async () => {
    const dir = migrationsDir({ '0001_widen.ts': WIDEN });
    const before = await inspect(db);
    expect((await cli(dir, 'expand')).code).toBe(0);
    expect((await cli(dir, 'rollback')).code).toBe(0);
    expect(await foreignKeys(db, 'orders')).toEqual(originalKeys.orders);
    expect(await foreignKeys(db, 'order_lines')).toEqual(originalKeys.order_lines);
    const after = await inspect(db);
    expect([after.columns('orders'), after.indexes('orders'), after.indexes('order_lines'), after.triggers]).toEqual([
      before.columns('orders'),
      before.indexes('orders'),
      before.indexes('order_lines'),
      before.triggers,
    ]);
  });

  test('new values whose parent is missing stop expand at the verification, naming their rows; a rollback cleans up', async () => {
    const dir = migrationsDir({
      '0001_shift.ts': migrationSource([
        "op.alterColumn('orders', 'customer_id', { type: 'bigint', up: 'customer_id + 95', down: 'customer_id - 95' })",
      ]),
    });
    const expand = await cli(dir, 'expand');
    expect(expand.code).toBe(1);
    expect(expand.stderr).toMatch(
      /verification failed: orders\.customer_id \(new\) of foreign key "orders_customer_fk" references customers \(id\) does not hold for rows with key \d+/,
    );
    // Stopped before the key was added.
    expect(await foreignKeys(db, 'orders')).toEqual(originalKeys.orders);
    expect((await cli(dir, 'contract')).code).toBe(2);
    expect((await cli(dir, 'rollback')).code).toBe(0);
    const after = await inspect(db);
    expect(after.columns('orders')).toEqual(['id', 'customer_id', 'amount']);
    // No trigger of the migration is left to write the dropped column: the old app's writes go through.
    expect(after.triggers).toEqual([]);
    await db.knex('orders').insert({ id: 900_001, customer_id: 1, amount: 1 });
    await db.knex('orders').where({ id: 900_001 }).update({ amount: 2 });
  });

  test('a key zmigrate cannot write again the same (ON UPDATE CASCADE) is refused before anything changes', async () => {
    await db.knex.raw(
      pg ? 'ALTER TABLE orders DROP CONSTRAINT orders_customer_fk' : 'ALTER TABLE orders DROP FOREIGN KEY orders_customer_fk',
    );
    await db.knex.raw(
      'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) ON UPDATE CASCADE',
    );
    const result = await cli(migrationsDir({ '0001_widen.ts': WIDEN }), 'expand');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error: 0001_widen: alterColumn orders\.customer_id: foreign key "orders_customer_fk" uses the column, and zmigrate cannot carry it over to the new column/,
    );
    expect((await inspect(db)).columns('orders')).toEqual(['id', 'customer_id', 'amount']);
  });

  test('dropColumn of a column its own foreign key uses: the key goes with it at contract, while the new app writes', async () => {
    const dir = migrationsDir({ '0001_drop.ts': migrationSource(["op.dropColumn('orders', 'customer_id', { down: '1' })"]) });
    expect((await cli(dir, 'expand')).code).toBe(0);
    const v2 = db.versionKnex(`${db.base}_0001_drop`);
    const fresh = startWriter((i) => retryViewSwap(() => v2('orders').insert({ id: 200_000 + i, amount: i })).then(() => undefined));
    try {
      await waitFor(() => fresh.stats.writes >= 10);
      expect((await cli(dir, 'contract')).code).toBe(0);
      await waitFor(() => fresh.stats.writes >= 20);
    } finally {
      expect((await fresh.stop()).failures).toEqual([]);
    }
    expect((await inspect(db)).columns('orders')).toEqual(['id', 'amount']);
    expect(await foreignKeys(db, 'orders')).toEqual([]);
  });

  test('dropColumn of a column a foreign key of another table references is refused before anything changes, naming the key', async () => {
    const result = await cli(migrationsDir({ '0001_drop.ts': migrationSource(["op.dropColumn('products', 'code')"]) }), 'expand');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error: 0001_drop: dropColumn products\.code: foreign key "line_product_fk" of table "order_lines" references the column, which would stop contract/,
    );
    expect((await inspect(db)).columns('products')).toEqual(['vendor', 'code']);
  });

  test('checks on the column: built again on the new column and renamed at contract on PostgreSQL; refused on MySQL/MariaDB', async () => {
    await db.knex.raw('ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount >= 0)');
    // Over two columns, naming the altered one inside a function call, beside a string that spells its name.
    await db.knex.raw(
      `ALTER TABLE orders ADD CONSTRAINT amount_capped CHECK (abs(amount) <= 100000 AND customer_id <> 0 AND 'amount' <> '')`,
    );
    const dir = migrationsDir({
      '0001_amount.ts': migrationSource(["op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })"]),
    });
    if (!pg) {
      const refused = await cli(dir, 'expand');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /^error: 0001_amount: alterColumn orders\.amount: check "amount_(positive|capped)" uses the column, and zmigrate cannot carry it over/,
      );
      expect((await inspect(db)).columns('orders')).toEqual(['id', 'customer_id', 'amount']);
      return;
    }
    const checks = async () =>
      (
        await rows(
          db.knex,
          "select conname || ' ' || pg_get_constraintdef(oid) || case when convalidated then '' else ' (not valid)' end as c from pg_constraint where conrelid = 'orders'::regclass and contype = 'c' order by 1",
        )
      ).map((r) => String(r.c));
    const before = await checks();
    expect(before).toEqual([
      "amount_capped CHECK (((abs(amount) <= 100000) AND (customer_id <> 0) AND ('amount'::text <> ''::text)))",
      'amount_positive CHECK ((amount >= 0))',
    ]);
    expect((await cli(dir, 'expand')).code).toBe(0);
    expect(await checks()).toEqual([
      "_zm_amount_capped CHECK (((abs(_zm_amount) <= 100000) AND (customer_id <> 0) AND ('amount'::text <> ''::text))) NOT VALID (not valid)",
      '_zm_amount_not_null CHECK ((_zm_amount IS NOT NULL)) NOT VALID (not valid)',
      '_zm_amount_positive CHECK ((_zm_amount >= 0)) NOT VALID (not valid)',
      ...before,
    ]);
    // The new app's write that breaks a check fails (the old column's check or the new one's, whichever comes first).
    const v2 = db.versionKnex(`${db.base}_0001_amount`);
    await expect(v2('orders').insert({ id: 300_000, customer_id: 1, amount: -1 })).rejects.toThrow(/violates check constraint/);
    await v2('orders').insert({ id: 300_001, customer_id: 1, amount: 5 });
    expect((await cli(dir, 'contract')).code).toBe(0);
    expect(await checks()).toEqual(before);
    expect(await columnType(db, 'orders', 'amount')).toBe('bigint');
    await expect(db.knex('orders').insert({ id: 300_002, customer_id: 1, amount: -1 })).rejects.toThrow(/amount_positive/);
  });

  test("another table's check of the same name over a column of the same name is not taken for one on the column", async () => {
    // PostgreSQL and MariaDB name checks per table: each table here has its own "positive", and only
    // the refunds' one names a column called amount.
    await db.knex.raw('ALTER TABLE orders ADD CONSTRAINT positive CHECK (customer_id > 0)');
    await db.knex.raw('CREATE TABLE refunds (id integer PRIMARY KEY, amount integer NOT NULL, CONSTRAINT positive CHECK (amount >= 0))');
    const dir = migrationsDir({
      '0001_amount.ts': migrationSource(["op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })"]),
    });
    const expanded = await cli(dir, 'expand');
    expect(expanded.stderr).not.toMatch(/^error/m);
    expect(expanded.code).toBe(0);
    expect((await cli(dir, 'contract')).code).toBe(0);
    expect(await columnType(db, 'orders', 'amount')).toBe(pg ? 'bigint' : 'bigint(20)');
    await expect(db.knex('orders').insert({ id: 300_000, customer_id: 0, amount: 1 })).rejects.toThrow(/positive/);
    await expect(db.knex('refunds').insert({ id: 1, amount: -1 })).rejects.toThrow(/positive/);
  });

  test("another table's foreign key to the column: pointed at the new column on PostgreSQL (rollback leaves the old one); refused on MySQL/MariaDB", async () => {
    await db.knex.raw(
      'CREATE TABLE accounts (id integer PRIMARY KEY, code varchar(20) NOT NULL, CONSTRAINT accounts_code_key UNIQUE (code))',
    );
    await db.knex.raw(
      'CREATE TABLE transfers (id integer PRIMARY KEY, account_code varchar(20), ' +
        'CONSTRAINT transfers_account_fk FOREIGN KEY (account_code) REFERENCES accounts (code) ON DELETE CASCADE)',
    );
    await db.knex.raw("INSERT INTO accounts (id, code) VALUES (1, 'a1'), (2, 'a2'), (3, 'a3')");
    await db.knex.raw("INSERT INTO transfers (id, account_code) VALUES (1, 'a1'), (2, 'a2'), (3, 'a2'), (4, NULL)");
    const dir = migrationsDir({
      '0001_code.ts': migrationSource(["op.alterColumn('accounts', 'code', { type: 'varchar(40)', up: 'code', down: 'code' })"]),
    });
    const original = [`transfers_account_fk (account_code) -> accounts (code) on delete cascade`];
    if (!pg) {
      const refused = await cli(dir, 'expand');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /^error: 0001_code: alterColumn accounts\.code: foreign key "transfers_account_fk" of table "transfers" uses the column, and zmigrate cannot carry it over/,
      );
      expect(await foreignKeys(db, 'transfers')).toEqual(original);
      return;
    }
    const first = await cli(dir, 'expand');
    expect([first.code, first.stderr]).toEqual([0, expect.anything()]);
    expect(await foreignKeys(db, 'transfers')).toEqual([
      '_zm_transfers_account_fk (account_code) -> accounts (_zm_code) on delete cascade (not valid)',
      ...original,
    ]);
    expect((await cli(dir, 'rollback')).code).toBe(0);
    expect(await foreignKeys(db, 'transfers')).toEqual(original);
    expect((await cli(dir, 'expand')).code).toBe(0);
    // Both apps write: the new one an account, the old one a transfer to it.
    await db.versionKnex(`${db.base}_0001_code`)('accounts').insert({ id: 4, code: 'a4' });
    await db.knex('transfers').insert({ id: 5, account_code: 'a4' });
    await expect(db.knex('transfers').insert({ id: 6, account_code: 'nope' })).rejects.toThrow(/transfers_account_fk/);
    expect((await cli(dir, 'contract')).code).toBe(0);
    expect(await foreignKeys(db, 'transfers')).toEqual(original);
    expect(await columnType(db, 'accounts', 'code')).toBe('character varying(40)');
    await expect(db.knex('transfers').insert({ id: 6, account_code: 'nope' })).rejects.toThrow(/transfers_account_fk/);
    await db.knex('accounts').where({ id: 2 }).delete();
    expect((await db.knex('transfers').orderBy('id').select('id')).map((r) => Number(r.id))).toEqual([1, 4, 5]);
  });

  test('a UNIQUE constraint on the column is a UNIQUE constraint again after contract, not just an index', async () => {
    await db.knex.raw('CREATE TABLE codes (id integer PRIMARY KEY, code varchar(20) NOT NULL, CONSTRAINT codes_code_key UNIQUE (code))');
    await db.knex.raw("INSERT INTO codes (id, code) VALUES (1, 'a'), (2, 'b')");
    const dir = migrationsDir({
      '0001_codes.ts': migrationSource(["op.alterColumn('codes', 'code', { type: 'varchar(40)', up: 'code', down: 'code' })"]),
    });
    const unique = async () =>
      (
        await rows(
          db.knex,
          "select constraint_name as c from information_schema.table_constraints where table_schema = ? and table_name = 'codes' and constraint_type = 'UNIQUE'",
          [db.base],
        )
      ).map((r) => String(r.c));
    expect(await unique()).toEqual(['codes_code_key']);
    for (const command of ['expand', 'contract']) expect((await cli(dir, command)).code).toBe(0);
    expect(await unique()).toEqual(['codes_code_key']);
    await expect(db.knex('codes').insert({ id: 3, code: 'a' })).rejects.toThrow(/codes_code_key|Duplicate entry/);
  });

  test('a new value that breaks a check stops expand at the verification, naming the check and the rows (PostgreSQL)', async () => {
    await db.knex.raw('ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount >= 0)');
    const dir = migrationsDir({
      '0001_shift.ts': migrationSource(["op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount - 10', down: 'amount + 10' })"]),
    });
    const expand = await cli(dir, 'expand');
    if (!pg) {
      expect(expand.code).toBe(2); // refused before anything changes, as above
      return;
    }
    expect(expand.code).toBe(1);
    expect(expand.stderr).toMatch(
      /verification failed: orders\.amount \(new\) meets check "amount_positive" does not hold for rows with key \d+/,
    );
    expect((await cli(dir, 'rollback')).code).toBe(0);
    const after = await inspect(db);
    expect(after.columns('orders')).toEqual(['id', 'customer_id', 'amount']);
    // No trigger of the migration is left to write the dropped column: the old app's writes go through.
    expect(after.triggers).toEqual([]);
    await db.knex('orders').insert({ id: 900_001, customer_id: 1, amount: 1 });
    await db.knex('orders').where({ id: 900_001 }).update({ amount: 2 });
  });

  if (!pg) {
    test('a new type the referenced column does not match, which InnoDB would refuse, is refused before anything changes', async () => {
      const dir = migrationsDir({
        '0001_narrow.ts': migrationSource([
          "op.alterColumn('orders', 'customer_id', { type: 'integer', up: 'customer_id', down: 'customer_id' })",
        ]),
      });
      const result = await cli(dir, 'expand');
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /^error: 0001_narrow: alterColumn orders\.customer_id: foreign key "orders_customer_fk" references customers\.id \(bigint\(20\)\), which MySQL\/MariaDB does not let a column of type integer reference/,
      );
      expect((await inspect(db)).columns('orders')).toEqual(['id', 'customer_id', 'amount']);
    });
  }
});

describe.each(SERVER_ENGINES)('NOT NULL for long columns that begin alike on %s', (engine: Engine) => {
  test('setNotNull on two, alterColumn and addColumn NOT NULL on two more: each check has a name of its own', async () => {
    const db = await createTestDatabase(engine);
    try {
      // 52 characters in common; PostgreSQL cuts names at 63 bytes, and zmigrate's checks add a prefix and a suffix.
      const common = 'notification_preferences_for_the_weekly_email_digest';
      const [a, b, c] = [`${common}_a`, `${common}_b`, `${common}_c`];
      await db.knex.raw(`CREATE TABLE prefs (id integer PRIMARY KEY, ${[a, b, c].map((x) => `${x} integer`).join(', ')})`);
      await db.knex.raw(`INSERT INTO prefs (id, ${a}, ${b}, ${c}) VALUES (1, NULL, 2, NULL), (2, 3, NULL, 4)`);
      const dir = migrationsDir({
        '0001_not_null.ts': migrationSource([
          `op.setNotNull('prefs', '${a}', { up: 'coalesce(${a}, 0)' })`,
          `op.setNotNull('prefs', '${b}', { up: 'coalesce(${b}, 0)' })`,
          `op.alterColumn('prefs', '${c}', { type: 'bigint', nullable: false, up: 'coalesce(${c}, 0)', down: '${c}' })`,
          `op.addColumn('prefs', '${common}_d', { type: 'integer', nullable: false, up: 'id * 10' })`,
        ]),
      });
      const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
      const expand = await cli('expand');
      expect(outcome(expand)).toEqual({ code: 0, errors: [] });
      const contract = await cli('contract');
      expect(outcome(contract)).toEqual({ code: 0, errors: [] });
      expect(rowsOf(await db.knex.raw(`SELECT id, ${a} AS a, ${b} AS b, ${c} AS c, ${common}_d AS d FROM prefs ORDER BY id`))).toEqual([
        { id: 1, a: 0, b: 2, c: engine === 'postgres' ? '0' : 0, d: 10 },
        { id: 2, a: 3, b: 0, c: engine === 'postgres' ? '4' : 4, d: 20 },
      ]);
      for (const column of [a, b, c, `${common}_d`]) {
        await expect(db.knex.raw(`UPDATE prefs SET ${column} = NULL WHERE id = 1`)).rejects.toThrow(/null/i);
      }
    } finally {
      await db.drop();
    }
  });
});
