/**
 * Two operations of one migration on the same thing: each is planned against
 * the version before it and contracted on the table as the ones before it
 * leave it, so pairs that reshape one table or column twice are refused
 * before anything changes (they used to fail half-way with a TypeError, or
 * leave an index behind); pairs that only build on an earlier operation's
 * work expand and contract.
 */
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli } from './support/cli';
import { inspect, snapshot } from './support/inspect';

const RENAME_TABLE = "op.renameTable('orders', 'purchases')";
const RENAME_CUSTOMER = "op.renameColumn('orders', 'customer', 'client')";
const WIDEN_AMOUNT = "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })";

/** [what, operations, the error's tail]. */
const REFUSED: Array<[string, string[], RegExp]> = [
  [
    'an index dropped on a renamed table',
    [RENAME_TABLE, "op.dropIndex('purchases', 'orders_amount_idx')"],
    /drop index orders_amount_idx on purchases: table "purchases" is renamed by an earlier operation of this migration \(rename table orders to purchases\)/,
  ],
  [
    'a column added to a renamed table',
    [RENAME_TABLE, "op.addColumn('purchases', 'x', { type: 'integer', nullable: true })"],
    /add column purchases\.x: table "purchases" is renamed by an earlier operation/,
  ],
  [
    'a table renamed after a column of it is retyped',
    [WIDEN_AMOUNT, RENAME_TABLE],
    /rename table orders to purchases: table "orders" is changed by an earlier operation of this migration \(alter column orders\.amount\)/,
  ],
  [
    'a renamed column retyped',
    [RENAME_CUSTOMER, "op.alterColumn('orders', 'client', { type: 'varchar(200)', up: 'client', down: 'client' })"],
    /alter column orders\.client: column "client" of "orders" is changed by an earlier operation of this migration \(rename column orders\.customer to client\)/,
  ],
  [
    'a retyped column set NOT NULL',
    [
      "op.alterColumn('orders', 'note', { type: 'varchar(500)', up: 'note', down: 'note' })",
      "op.setNotNull('orders', 'note', { up: \"coalesce(note, '')\" })",
    ],
    /set not null orders\.note: column "note" of "orders" is changed by an earlier operation/,
  ],
  ['a column retyped twice', [WIDEN_AMOUNT, WIDEN_AMOUNT], /alter column orders\.amount: column "amount" of "orders" is changed/],
  ['a column renamed twice', [RENAME_CUSTOMER, "op.renameColumn('orders', 'client', 'buyer')"], /column "client" of "orders" is changed/],
  [
    'an index dropped on a column alterColumn rebuilds, after it',
    [WIDEN_AMOUNT, "op.dropIndex('orders', 'orders_amount_idx')"],
    /drop index orders_amount_idx on orders: the index is on orders\.amount, which alter column orders\.amount rebuilds/,
  ],
  [
    'and before it',
    ["op.dropIndex('orders', 'orders_amount_idx')", WIDEN_AMOUNT],
    /drop index orders_amount_idx on orders: the index is on orders\.amount, which alter column orders\.amount rebuilds/,
  ],
];

describe.each(SERVER_ENGINES)('operations on the same thing in one migration, on %s', (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, customer varchar(100) NOT NULL, amount integer NOT NULL, note text)');
    await db.knex.raw('CREATE INDEX orders_amount_idx ON orders (amount)');
    await db.knex.raw("INSERT INTO orders VALUES (1, 'a', 10, NULL), (2, 'b', 20, 'x')");
  });
  afterAll(async () => {
    await db.drop();
  });

  const cli = (dir: string, ...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });

  // MySQL/MariaDB have no partial indexes ('where' is refused there on its own).
  const refused: typeof REFUSED =
    engine === 'postgres'
      ? [
          ...REFUSED,
          [
            'a partial index on a table alterColumn changes',
            ["op.createIndex('orders', ['amount'], { name: 'orders_big_idx', where: 'amount > 15' })", WIDEN_AMOUNT],
            /create index orders_big_idx on orders \(amount\): a partial index, in the migration where alter column orders\.amount rebuilds the table's indexes/,
          ],
          [
            'a check on a table alterColumn changes',
            [WIDEN_AMOUNT, "op.addCheck('orders', 'orders_amount_positive', 'amount > 0')"],
            /add check orders_amount_positive on orders: a check on a table whose column alter column orders\.amount replaces in the same migration/,
          ],
        ]
      : REFUSED;

  test.each(refused)('%s is refused before anything changes', async (_what, operations, message) => {
    const before = await snapshot(db);
    const dir = migrationsDir({ '0001_change.ts': migrationSource(operations) });
    const { code, errors } = outcome(await cli(dir, 'expand'));
    expect(code).toBe(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(errors[0]).toMatch(
      /put this change in a migration of its own|(drop|create) the index in a migration of its own|add the check in a migration of its own/,
    );
    expect(await snapshot(db)).toEqual(before);
    const status = JSON.parse((await cli(dir, 'status', '--json')).stdout) as { migrations: Array<{ phase: string }> };
    expect(status.migrations.map((m) => m.phase)).toEqual(['pending']);
  });

  test('two alterColumns of columns one index covers are refused before anything changes', async () => {
    await db.knex.raw('CREATE INDEX orders_customer_amount ON orders (customer, amount)');
    try {
      const before = await snapshot(db);
      const dir = migrationsDir({
        '0001_change.ts': migrationSource([
          "op.alterColumn('orders', 'customer', { type: 'varchar(200)', up: 'customer', down: 'customer' })",
          WIDEN_AMOUNT,
        ]),
      });
      expect(outcome(await cli(dir, 'expand'))).toEqual({
        code: 2,
        errors: [
          expect.stringMatching(
            /alter column orders\.amount: index "orders_customer_amount" covers both it and the column of alter column orders\.customer/,
          ),
        ],
      });
      expect(await snapshot(db)).toEqual(before);
    } finally {
      await db.knex.raw(engine === 'postgres' ? 'DROP INDEX orders_customer_amount' : 'DROP INDEX orders_customer_amount ON orders');
    }
  });

  test('an index on a renamed or retyped column, and a unique key on an added one, expand and contract', async () => {
    const dir = migrationsDir({
      '0001_build_on.ts': migrationSource([
        RENAME_CUSTOMER,
        "op.createIndex('orders', ['client'])",
        WIDEN_AMOUNT,
        "op.createIndex('orders', ['amount'], { name: 'orders_amount_wide_idx' })",
        "op.addColumn('orders', 'code', { type: 'integer', nullable: true })",
        "op.addUnique('orders', ['code'])",
      ]),
    });
    expect(outcome(await cli(dir, 'expand'))).toEqual({ code: 0, errors: [] });
    expect(outcome(await cli(dir, 'contract'))).toEqual({ code: 0, errors: [] });
    const state = await inspect(db);
    // PostgreSQL adds the retyped column last; MySQL/MariaDB put it where the old one was.
    expect(state.columns('orders')).toEqual(
      engine === 'postgres' ? ['id', 'client', 'note', 'amount', 'code'] : ['id', 'client', 'amount', 'note', 'code'],
    );
    expect([...state.indexes('orders')].sort()).toEqual(
      [
        engine === 'postgres' ? 'orders_pkey' : 'PRIMARY',
        'orders_amount_idx',
        'orders_amount_wide_idx',
        'orders_client_idx',
        'orders_code_key',
      ].sort(),
    );
    await expect(db.knex.raw("INSERT INTO orders (id, client, amount, code) VALUES (3, 'c', 30, 7), (4, 'd', 40, 7)")).rejects.toThrow(
      /duplicate|unique/i,
    );
  });
});
