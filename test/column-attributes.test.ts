/**
 * MySQL/MariaDB restate a whole column to change it (MODIFY, CHANGE), so
 * what a migration does not change must be written again as it was, or it
 * is lost: setNotNull keeps the column's collation, comment and ON UPDATE;
 * alterColumn keeps ON UPDATE, at the new type's precision. And MariaDB
 * cannot make a nullable TIMESTAMP column NOT NULL without blocking writes
 * (`cannot convert NULL to non-constant DEFAULT`), so the operations that
 * would have contract do it are refused before anything changes, rather
 * than stopping contract after the backfill; so is setNotNull of a
 * generated column.
 */
import { createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli } from './support/cli';
import { snapshot } from './support/inspect';
import { queryRows } from './support/apps';

describe('column attributes across a MODIFY on MariaDB', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('mysql');
    await db.knex.raw(
      `CREATE TABLE orders (
         id integer PRIMARY KEY,
         code varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL COMMENT 'the code',
         touched datetime NULL ON UPDATE current_timestamp() COMMENT 'last write',
         stamped timestamp NULL DEFAULT NULL ON UPDATE current_timestamp(),
         seen timestamp NULL DEFAULT NULL,
         qty integer NULL)`,
    );
    await db.knex.raw("INSERT INTO orders (id, code, qty) VALUES (1, NULL, 1), (2, 'Ab', 2)");
  });
  afterEach(async () => {
    await db.drop();
  });

  const run = (command: string, operations: string[]) =>
    runCli([command, '--dir', migrationsDir({ '0001_change.ts': migrationSource(operations) })], {
      env: { ZMIGRATE_DATABASE_URL: db.url },
    });
  const column = async (name: string) =>
    (
      await queryRows(
        db.knex,
        `SELECT COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLLATION_NAME AS collation, COLUMN_COMMENT AS comment, EXTRA AS extra
           FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND COLUMN_NAME = ?`,
        [name],
      )
    )[0];

  test('setNotNull keeps the collation, the comment and ON UPDATE', async () => {
    const operations = [
      "op.setNotNull('orders', 'code', { up: \"coalesce(code, 'none')\" })",
      "op.setNotNull('orders', 'touched', { up: \"coalesce(touched, '2000-01-01')\" })",
    ];
    expect(outcome(await run('expand', operations))).toEqual({ code: 0, errors: [] });
    expect(outcome(await run('contract', operations))).toEqual({ code: 0, errors: [] });
    expect(await column('code')).toMatchObject({ type: 'varchar(20)', nullable: 'NO', collation: 'utf8mb4_bin', comment: 'the code' });
    expect(await column('touched')).toMatchObject({ type: 'datetime', nullable: 'NO', comment: 'last write' });
    expect(String((await column('touched')).extra)).toMatch(/on update current_timestamp\(\)/i);
    // utf8mb4_bin tells case apart, and the server still sets `touched` on an update.
    expect(await queryRows(db.knex, "SELECT id FROM orders WHERE code = 'ab'")).toEqual([]);
    await db.knex.raw('UPDATE orders SET qty = 3 WHERE id = 1');
    expect((await queryRows(db.knex, 'SELECT touched > ? AS bumped FROM orders WHERE id = 1', ['2000-01-01']))[0].bumped).toBe(1);
  });

  test('alterColumn keeps ON UPDATE at the new precision, and refuses a type that cannot have it', async () => {
    const widen = ["op.alterColumn('orders', 'stamped', { type: 'timestamp(3)', up: 'stamped', down: 'stamped' })"];
    expect(outcome(await run('expand', widen))).toEqual({ code: 0, errors: [] });
    expect(outcome(await run('contract', widen))).toEqual({ code: 0, errors: [] });
    expect(await column('stamped')).toMatchObject({ type: 'timestamp(3)', nullable: 'YES' });
    expect(String((await column('stamped')).extra)).toMatch(/on update current_timestamp\(3\)/i);
    await db.knex.raw('UPDATE orders SET qty = 4 WHERE id = 2');
    expect((await queryRows(db.knex, 'SELECT stamped IS NOT NULL AS set_ FROM orders WHERE id = 2'))[0].set_).toBe(1);

    const before = await snapshot(db);
    const { code, errors } = outcome(
      await runCli(
        [
          'expand',
          '--dir',
          migrationsDir({
            '0001_change.ts': migrationSource(widen),
            '0002_number.ts': migrationSource(["op.alterColumn('orders', 'touched', { type: 'bigint', up: '0', down: 'NULL' })"]),
          }),
        ],
        { env: { ZMIGRATE_DATABASE_URL: db.url } },
      ),
    );
    expect(code).toBe(2);
    expect(errors).toEqual([
      expect.stringMatching(
        /alterColumn orders\.touched: the column has ON UPDATE current_timestamp\(\), which a bigint column cannot have/,
      ),
    ]);
    expect(await snapshot(db)).toEqual(before);
  });

  test('setNotNull of a generated column is refused before anything changes', async () => {
    await db.knex.raw('ALTER TABLE orders ADD COLUMN twice integer AS (qty * 2) VIRTUAL');
    const before = await snapshot(db);
    const { code, errors } = outcome(await run('expand', ["op.setNotNull('orders', 'twice', { up: '0' })"]));
    expect(code).toBe(2);
    expect(errors).toEqual([expect.stringMatching(/setNotNull orders\.twice: a generated column, which zmigrate cannot fill/)]);
    expect(await snapshot(db)).toEqual(before);
  });

  test.each([
    ['setNotNull', "op.setNotNull('orders', 'seen', { up: 'coalesce(seen, CURRENT_TIMESTAMP)' })", 'setNotNull orders.seen'],
    [
      'alterColumn',
      "op.alterColumn('orders', 'seen', { nullable: false, up: 'coalesce(seen, CURRENT_TIMESTAMP)', down: 'seen' })",
      'alterColumn orders.seen',
    ],
    ['addColumn', "op.addColumn('orders', 'at', { type: 'timestamp', nullable: false, up: 'CURRENT_TIMESTAMP' })", 'addColumn orders.at'],
  ])('%s that would make a nullable TIMESTAMP NOT NULL at contract is refused before anything changes', async (_op, operation, what) => {
    const before = await snapshot(db);
    const { code, errors } = outcome(await run('expand', [operation]));
    expect(code).toBe(2);
    expect(errors).toEqual([
      expect.stringMatching(
        new RegExp(`${what.replace('.', '\\.')}: MySQL/MariaDB cannot make a nullable TIMESTAMP column NOT NULL without blocking writes`),
      ),
    ]);
    expect(await snapshot(db)).toEqual(before);
  });
});
