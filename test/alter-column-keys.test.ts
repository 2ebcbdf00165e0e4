/**
 * alterColumn of a column its own foreign keys use. PostgreSQL: the keys
 * are built again on the new column (NOT VALID after the backfill, once the
 * verification found every new value's parent), validated at contract and
 * renamed to the old names, keeping what they do on delete; writes of both
 * apps go on throughout, and a key the new column would break stops expand
 * naming the rows. MySQL/MariaDB: refused before anything changes, naming
 * the key (test/bad-input.test.ts has the other refusals).
 */
import { createTestDatabase, SERVER_ENGINES, type Engine, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli, type CliResult } from './support/cli';
import { rowsOf, startWriter, waitFor, type Knex } from './support/apps';
import { inspect } from './support/inspect';

const ORDERS = 3000;
const CUSTOMERS = 100;

type Row = Record<string, unknown>;

async function rows(knex: Knex, sql: string, bindings: unknown[] = []): Promise<Row[]> {
  return rowsOf<Row>(await knex.raw(sql, bindings as never));
}

/** The foreign keys of a table as PostgreSQL writes them, with whether each is validated. */
async function foreignKeys(db: TestDatabase, table: string): Promise<string[]> {
  const found = await rows(
    db.knex,
    "select conname || ' ' || pg_get_constraintdef(oid) || case when convalidated then '' else ' (not valid)' end as k from pg_constraint where conrelid = ?::regclass and contype = 'f' order by 1",
    [table],
  );
  return found.map((r) => String(r.k));
}

async function columnType(db: TestDatabase, table: string, column: string): Promise<string> {
  const [row] = await rows(
    db.knex,
    'select format_type(atttypid, atttypmod) as t from pg_attribute where attrelid = ?::regclass and attname = ? and not attisdropped',
    [table, column],
  );
  return String(row?.t);
}

const WIDEN = migrationSource([
  "op.alterColumn('orders', 'customer_id', { type: 'bigint', up: 'customer_id', down: 'customer_id' })",
  "op.alterColumn('order_lines', 'product', { type: 'varchar(40)', up: 'product', down: 'product' })",
]);

describe.each(SERVER_ENGINES)('alterColumn and the foreign keys of its column on %s', (engine: Engine) => {
  const pg = engine === 'postgres';
  let db: TestDatabase;

  const cli = (dir: string, ...args: string[]): Promise<CliResult> =>
    runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    await db.knex.raw('CREATE TABLE customers (id integer PRIMARY KEY, name varchar(40) NOT NULL)');
    await db.knex.raw('CREATE TABLE products (vendor integer NOT NULL, code varchar(20) NOT NULL, PRIMARY KEY (vendor, code))');
    await db.knex.raw(
      'CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, amount integer NOT NULL, ' +
        'CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE)',
    );
    await db.knex.raw('CREATE INDEX orders_customer_idx ON orders (customer_id)');
    // A key of two columns, the altered one second: its columns keep their order.
    await db.knex.raw(
      'CREATE TABLE order_lines (id integer PRIMARY KEY, vendor integer NOT NULL, product varchar(20), ' +
        'CONSTRAINT line_product_fk FOREIGN KEY (vendor, product) REFERENCES products (vendor, code))',
    );
    await db.knex.raw('CREATE INDEX line_product_idx ON order_lines (vendor, product)');
    const numbers = (n: number) => (pg ? `generate_series(1, ${n}) AS g(seq)` : `seq_1_to_${n}`);
    await db.knex.raw(`INSERT INTO customers (id, name) SELECT seq, CONCAT('c', seq) FROM ${numbers(CUSTOMERS)}`);
    await db.knex.raw(`INSERT INTO products (vendor, code) SELECT 1 + seq % 3, CONCAT('p', seq) FROM ${numbers(30)}`);
    await db.knex.raw(`INSERT INTO orders (id, customer_id, amount) SELECT seq, 1 + seq % ${CUSTOMERS}, seq FROM ${numbers(ORDERS)}`);
    await db.knex.raw(`INSERT INTO order_lines (id, vendor, product) SELECT seq, 1 + seq % 3, CONCAT('p', seq) FROM ${numbers(30)}`);
  });

  afterEach(async () => {
    await db.drop();
  });

  if (!pg) {
    test('refused before anything changes, naming the key', async () => {
      const before = await inspect(db);
      const result = await cli(migrationsDir({ '0001_widen.ts': WIDEN }), 'expand');
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /^error: 0001_widen: alterColumn orders\.customer_id: foreign key "orders_customer_fk" uses the column, and zmigrate cannot carry it over to the new column yet/,
      );
      const after = await inspect(db);
      expect([after.columns('orders'), after.triggers]).toEqual([before.columns('orders'), before.triggers]);
    });
    return;
  }

  test('the keys are built on the new column, hold while both apps write, and take the old names at contract', async () => {
    const dir = migrationsDir({ '0001_widen.ts': WIDEN });
    let v2: Knex | undefined;
    const old = startWriter(async (i) => {
      await db.knex('orders').insert({ id: 100_000 + i, customer_id: 1 + (i % CUSTOMERS), amount: i });
      await db
        .knex('orders')
        .where({ id: 1 + ((i * 7) % ORDERS) })
        .update({ customer_id: 1 + ((i * 3) % CUSTOMERS) });
    });
    const fresh = startWriter(async (i) => {
      if (!v2) return;
      await v2('orders').insert({ id: 200_000 + i, customer_id: 1 + ((i * 11) % CUSTOMERS), amount: i });
    });
    try {
      const expand = await cli(dir, 'expand');
      expect(expand.code).toBe(0);
      expect(expand.stderr).toMatch(
        /verified orders\.customer_id \(new\) of foreign key "orders_customer_fk" references customers \(id\) on every row/,
      );
      expect(await foreignKeys(db, 'orders')).toEqual([
        '_zm_orders_customer_fk FOREIGN KEY (_zm_customer_id) REFERENCES customers(id) ON DELETE CASCADE NOT VALID (not valid)',
        'orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE',
      ]);
      expect(await foreignKeys(db, 'order_lines')).toEqual([
        '_zm_line_product_fk FOREIGN KEY (vendor, _zm_product) REFERENCES products(vendor, code) NOT VALID (not valid)',
        'line_product_fk FOREIGN KEY (vendor, product) REFERENCES products(vendor, code)',
      ]);
      v2 = db.versionKnex('public_0001_widen');
      await waitFor(() => fresh.stats.writes >= 20);
      // A new app's write without a parent fails (on whichever of the two keys checks it first).
      await expect(v2('orders').insert({ id: 300_000, customer_id: CUSTOMERS + 1, amount: 1 })).rejects.toThrow(
        /violates foreign key constraint/,
      );
      await expect(v2('order_lines').insert({ id: 300_000, vendor: 1, product: 'nope' })).rejects.toThrow(
        /violates foreign key constraint/,
      );
      const contract = await cli(dir, 'contract');
      expect(contract.code).toBe(0);
      await waitFor(() => fresh.stats.writes >= 40);
    } finally {
      expect((await old.stop()).failures).toEqual([]);
      expect((await fresh.stop()).failures).toEqual([]);
    }
    expect(await foreignKeys(db, 'orders')).toEqual([
      'orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE',
    ]);
    expect(await foreignKeys(db, 'order_lines')).toEqual([
      'line_product_fk FOREIGN KEY (vendor, product) REFERENCES products(vendor, code)',
    ]);
    expect(await columnType(db, 'orders', 'customer_id')).toBe('bigint');
    expect(await columnType(db, 'order_lines', 'product')).toBe('character varying(40)');
    // Still enforced, and still cascading.
    await expect(db.knex('orders').insert({ id: 400_000, customer_id: CUSTOMERS + 1, amount: 1 })).rejects.toThrow(/orders_customer_fk/);
    await db.knex('customers').where({ id: 7 }).delete();
    expect(await rows(db.knex, 'select count(*)::int as n from orders where customer_id = 7')).toEqual([{ n: 0 }]);
    expect(await rows(db.knex, 'select count(*)::int as n from orders where customer_id is null')).toEqual([{ n: 0 }]);
  });

  test('rollback after expand leaves the old keys alone and no new one behind', async () => {
    const dir = migrationsDir({ '0001_widen.ts': WIDEN });
    const before = await inspect(db);
    expect((await cli(dir, 'expand')).code).toBe(0);
    expect((await cli(dir, 'rollback')).code).toBe(0);
    expect(await foreignKeys(db, 'orders')).toEqual([
      'orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE',
    ]);
    expect(await foreignKeys(db, 'order_lines')).toEqual([
      'line_product_fk FOREIGN KEY (vendor, product) REFERENCES products(vendor, code)',
    ]);
    const after = await inspect(db);
    expect([after.columns('orders'), after.indexes('orders'), after.triggers]).toEqual([
      before.columns('orders'),
      before.indexes('orders'),
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
    // Stopped before the key was added: nothing to validate at contract.
    expect(await foreignKeys(db, 'orders')).toEqual([
      'orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE',
    ]);
    expect((await cli(dir, 'contract')).code).toBe(2);
    expect((await cli(dir, 'rollback')).code).toBe(0);
    expect((await inspect(db)).columns('orders')).toEqual(['id', 'customer_id', 'amount']);
  });

  test('a key zmigrate cannot write again the same (DEFERRABLE) is refused before anything changes', async () => {
    await db.knex.raw('ALTER TABLE orders DROP CONSTRAINT orders_customer_fk');
    await db.knex.raw(
      'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) DEFERRABLE INITIALLY DEFERRED',
    );
    const result = await cli(migrationsDir({ '0001_widen.ts': WIDEN }), 'expand');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/foreign key "orders_customer_fk" uses the column, and zmigrate cannot carry it over to the new column/);
    expect((await inspect(db)).columns('orders')).toEqual(['id', 'customer_id', 'amount']);
  });
});
