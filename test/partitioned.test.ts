/**
 * PostgreSQL partitioned tables. zmigrate would give a partitioned table's
 * partitions triggers and version views of their own, and contract could
 * then not drop a column from them: a migration that changed one got stuck
 * half-way through contract. Operations on a partitioned table or on a
 * partition are refused before anything changes; migrations of other
 * tables beside one go through.
 */
import { createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli, type CliResult } from './support/cli';
import { inspect, snapshot } from './support/inspect';

describe('partitioned tables on PostgreSQL', () => {
  let db: TestDatabase;

  const run = (operation: string, command = 'expand'): Promise<CliResult> =>
    runCli([command, '--dir', migrationsDir({ '0001_change.ts': migrationSource([operation]) })], {
      env: { ZMIGRATE_DATABASE_URL: db.url },
    });

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
    await db.knex.raw(
      'CREATE TABLE orders (id integer, region integer, amount integer NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region)',
    );
    await db.knex.raw('CREATE TABLE orders_1 PARTITION OF orders FOR VALUES IN (1)');
    await db.knex.raw('CREATE TABLE orders_2 PARTITION OF orders FOR VALUES IN (2)');
    await db.knex.raw('INSERT INTO orders SELECT g, 1 + g % 2, g FROM generate_series(1, 100) g');
    await db.knex.raw('CREATE TABLE notes (id integer PRIMARY KEY, body text)');
  });

  afterEach(async () => {
    await db.drop();
  });

  test.each([
    [
      'alterColumn of a partitioned table',
      "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })",
      /table "orders" is partitioned/,
    ],
    ['dropColumn of a partitioned table', "op.dropColumn('orders', 'amount', { down: '0' })", /table "orders" is partitioned/],
    ['createIndex on a partitioned table', "op.createIndex('orders', ['amount'])", /table "orders" is partitioned/],
    [
      'addColumn to a partition',
      "op.addColumn('orders_1', 'flag', { type: 'integer' })",
      /table "orders_1" is a partition of a partitioned table/,
    ],
  ])('%s is refused before anything changes', async (_what, operation, message) => {
    const before = await snapshot(db);
    const result = await run(operation);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(await snapshot(db)).toEqual(before);
  });

  test('a migration of another table goes through beside one', async () => {
    const operation = "op.alterColumn('notes', 'body', { type: 'varchar(200)', up: 'body', down: 'body' })";
    expect((await run(operation)).code).toBe(0);
    expect((await run(operation, 'contract')).code).toBe(0);
    expect((await inspect(db)).columns('notes')).toEqual(['id', 'body']);
    expect(Number((await db.knex('orders').count({ n: '*' }))[0].n)).toBe(100);
  });
});
