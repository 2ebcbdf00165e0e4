/**
 * The dual-write operations on the embedded database: one process and one
 * connection at a time, so the apps write between the CLI's runs.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli } from './support/cli';

describe('dual write on pglite', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pglite');
  });
  afterAll(async () => {
    await db.drop();
  });

  test('rename and type change in one file: expand, both versions write, contract', async () => {
    const dir = migrationsDir({
      '0001_orders.ts': migrationSource([
        "op.createTable('orders', { columns: { id: { type: 'bigint', primaryKey: true }, customer: { type: 'text', nullable: false }, amount: { type: 'integer', nullable: false } } })",
        "op.sql({ expand: \"INSERT INTO orders (id, customer, amount) VALUES (1, 'ann', 5), (2, 'bob', 7)\", rollback: 'DELETE FROM orders' })",
      ]),
    });
    const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    writeFileSync(
      path.join(dir, '0002_reshape.ts'),
      migrationSource([
        "op.renameColumn('orders', 'customer', 'customer_name')",
        "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount * 10', down: 'amount / 10' })",
      ]),
    );
    expect((await cli('expand')).code).toBe(0);
    await db.knex.raw("INSERT INTO orders (id, customer, amount) VALUES (3, 'old app', 9)");
    await db.knex.raw("INSERT INTO public_0002_reshape.orders (id, customer_name, amount) VALUES (4, 'new app', 110)");
    const { rows: both } = (await db.knex.raw('SELECT id, customer, amount FROM orders ORDER BY id')) as unknown as { rows: unknown[] };
    expect(both).toEqual([
      { id: 1, customer: 'ann', amount: 5 },
      { id: 2, customer: 'bob', amount: 7 },
      { id: 3, customer: 'old app', amount: 9 },
      { id: 4, customer: 'new app', amount: 11 },
    ]);
    expect((await cli('contract')).code).toBe(0);
    const { rows } = (await db.knex.raw('SELECT id, customer_name, amount FROM orders ORDER BY id')) as unknown as { rows: unknown[] };
    expect(rows).toEqual([
      { id: 1, customer_name: 'ann', amount: 50 },
      { id: 2, customer_name: 'bob', amount: 70 },
      { id: 3, customer_name: 'old app', amount: 90 },
      { id: 4, customer_name: 'new app', amount: 110 },
    ]);
  });
});
