/**
 * alterColumn and the PostgreSQL indexes that read its column other than as
 * a key column: in a partial index's predicate, or in an expression. Such an
 * index went with the old column at contract, without a word (a partial
 * UNIQUE index's rule with it). zmigrate does not build those again on the
 * new column, so the operation is refused before anything changes, naming
 * the index; an index that reads other columns only is left alone.
 */
import { createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli } from './support/cli';
import { inspect } from './support/inspect';

describe('alterColumn and the partial and expression indexes over its column on PostgreSQL', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('postgres');
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, amount integer NOT NULL, note text, customer integer)');
    await db.knex.raw("INSERT INTO orders SELECT g, g, 'n' || g, g FROM generate_series(1, 100) g");
  });

  afterEach(async () => {
    await db.drop();
  });

  const expand = (column: string) =>
    runCli(
      [
        'expand',
        '--dir',
        migrationsDir({
          '0001_alter.ts': migrationSource([
            `op.alterColumn('orders', '${column}', { type: 'text', up: '${column}::text', down: '${column}::int' })`,
          ]),
        }),
      ],
      { env: { ZMIGRATE_DATABASE_URL: db.url } },
    );

  test.each([
    [
      'a partial unique index whose predicate reads it',
      'CREATE UNIQUE INDEX orders_open ON orders (customer) WHERE amount > 0',
      'orders_open',
    ],
    ['an index over an expression of it', 'CREATE INDEX orders_cents ON orders ((amount * 100))', 'orders_cents'],
  ])('a column in %s is refused before anything changes', async (_what, index, name) => {
    await db.knex.raw(index);
    const before = await inspect(db);
    const result = await expand('amount');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`alterColumn orders\\.amount: index "${name}" is partial or over expressions`));
    const after = await inspect(db);
    expect([after.columns('orders'), after.indexes('orders'), after.versionSchemas]).toEqual([
      before.columns('orders'),
      before.indexes('orders'),
      before.versionSchemas,
    ]);
  });

  test('a partial index that reads other columns only is left alone', async () => {
    await db.knex.raw('CREATE UNIQUE INDEX orders_open ON orders (customer) WHERE amount > 0');
    const result = await expand('note');
    expect(result.code).toBe(0);
    expect((await inspect(db)).indexes('orders')).toContain('orders_open');
  });
});
