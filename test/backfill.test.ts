/**
 * Issue 5: the backfill resumes from its checkpoint after SIGKILL without
 * redoing finished batches, its verification catches a corrupted row (and
 * contract refuses), it terminates under constant inserts, refuses tables
 * without a primary key, and walks composite keys.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli } from './support/cli';
import { rowsOf, startWriter, waitFor } from './support/apps';
import { kill9, startCli } from './support/process';

const ROWS = 20_000;
const ALTER = migrationSource(["op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount * 2', down: 'amount / 2' })"]);

describe.each(SERVER_ENGINES)('backfill on %s', (engine) => {
  let db: TestDatabase;
  let dir: string;
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: db.url } });
  const pg = engine === 'postgres';

  /** orders(id, amount, touches): a user trigger counts how often each row is updated. */
  async function ordersTable(rows = ROWS): Promise<void> {
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, amount integer NOT NULL, touches integer NOT NULL DEFAULT 0)');
    if (pg) {
      await db.knex.raw(
        'CREATE FUNCTION count_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touches := OLD.touches + 1; RETURN NEW; END $$',
      );
      await db.knex.raw('CREATE TRIGGER count_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION count_touch()');
      await db.knex.raw('INSERT INTO orders (id, amount) SELECT g, g % 1000 FROM generate_series(1, ?) g', [rows]);
    } else {
      await db.knex.raw('CREATE TRIGGER count_touch BEFORE UPDATE ON orders FOR EACH ROW SET NEW.touches = OLD.touches + 1');
      await db.knex.raw('INSERT INTO orders (id, amount) SELECT seq, seq % 1000 FROM seq_1_to_' + Number(rows));
    }
  }

  beforeEach(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({});
  });
  afterEach(async () => {
    await db.drop();
  });

  async function checkpoint(): Promise<{ last: unknown[] | null } | undefined> {
    const table = pg ? 'zmigrate.steps' : 'zmigrate_steps';
    const rows = rowsOf<{ checkpoint: string | null }>(await db.knex.raw(`SELECT checkpoint FROM ${table} WHERE checkpoint IS NOT NULL`));
    return rows[0]?.checkpoint ? JSON.parse(rows[0].checkpoint) : undefined;
  }

  test('killed mid-backfill, it resumes from the checkpoint without redoing finished batches', async () => {
    await ordersTable();
    writeFileSync(path.join(dir, '0001_amount.ts'), ALTER);
    const env = { ZMIGRATE_DATABASE_URL: db.url };
    const running = startCli(['expand', '--dir', dir, '--batch-size', '500', '--batch-delay', '30'], env);
    await running.waitForStderr(/backfill orders\._zm_amount/);
    await new Promise((r) => setTimeout(r, 600));
    const killed = await kill9(running);
    expect(killed.signal).toBe('SIGKILL');
    const saved = await checkpoint();
    expect(saved?.last).toBeTruthy();
    const done = Number(saved!.last![0]);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(ROWS);

    const during = JSON.parse((await cli('status', '--json')).stdout) as {
      migrations: Array<{ phase: string; backfilledRows: number | null }>;
    };
    expect(during.migrations[0]).toMatchObject({ phase: 'expanding', backfilledRows: expect.any(Number) });
    expect(during.migrations[0].backfilledRows).toBeGreaterThan(0);
    expect(during.migrations[0].backfilledRows).toBeLessThan(ROWS);

    const rerun = await cli('expand', '--batch-size', '500');
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain('(resuming)');
    const after = JSON.parse((await cli('status', '--json')).stdout) as {
      migrations: Array<{ phase: string; backfilledRows: number | null }>;
    };
    expect(after.migrations[0]).toMatchObject({ phase: 'expanded', backfilledRows: ROWS });
    expect((await cli('status')).stdout).toMatch(/0001_amount\s+expanded\s+schema \S+; backfill 20,000 rows/);
    // The user trigger counted every update: each row was backfilled exactly once, before or after the kill.
    const touched = rowsOf<{ touches: number | string; n: number | string }>(
      await db.knex.raw('SELECT touches, COUNT(*) AS n FROM orders GROUP BY touches'),
    );
    expect(touched.map((r) => [Number(r.touches), Number(r.n)])).toEqual([[1, ROWS]]);
    const wrong = rowsOf<{ n: number | string }>(
      await db.knex.raw(
        `SELECT COUNT(*) AS n FROM orders WHERE ${pg ? '"_zm_amount"' : '`_zm_amount`'} <> amount * 2 OR ${pg ? '"_zm_amount"' : '`_zm_amount`'} IS NULL`,
      ),
    );
    expect(Number(wrong[0].n)).toBe(0);
  });

  test('verification catches a corrupted row, and contract refuses naming it', async () => {
    await ordersTable(3000);
    writeFileSync(path.join(dir, '0001_amount.ts'), ALTER);
    expect((await cli('expand')).code).toBe(0);
    // Corrupt one row behind the triggers' back (the backfill's own flag makes them stand aside).
    const trx = await db.knex.transaction();
    await trx.raw(pg ? "SELECT set_config('zmigrate.backfill', 'on', true)" : 'SET @zmigrate_backfill = 1');
    await trx.raw(pg ? 'UPDATE orders SET "_zm_amount" = -7 WHERE id = 1234' : 'UPDATE orders SET `_zm_amount` = -7 WHERE id = 1234');
    if (!pg) await trx.raw('SET @zmigrate_backfill = NULL');
    await trx.commit();

    const check = await cli('backfill');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('0001_amount: verification failed: orders.amount (new) = up(old) does not hold for rows with key 1234');
    const contract = await cli('contract');
    expect(contract.code).toBe(2);
    expect(contract.stderr).toMatch(/^error: 0001_amount cannot be contracted: verification failed: .* key 1234/m);

    // Repaired, a new verification clears the way.
    // An old-app write to the row makes the trigger derive the new column again.
    await db.knex.raw('UPDATE orders SET amount = amount + 1 WHERE id = 1234');
    const again = await cli('backfill');
    expect(again.stdout).toContain('0001_amount: backfilled and verified');
    expect(again.code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
  });

  test('terminates under constant inserts; rows inserted meanwhile get their value from the trigger', async () => {
    await ordersTable(5000);
    writeFileSync(path.join(dir, '0001_amount.ts'), ALTER);
    const inserter = startWriter(
      async (i) => {
        await db.knex('orders').insert({ id: 1_000_000 + i, amount: i % 1000 });
      },
      { pauseMs: 1 },
    );
    await waitFor(() => inserter.stats.writes > 10);
    const expand = await cli('expand', '--batch-size', '200');
    const stats = await inserter.stop();
    expect(expand.code).toBe(0);
    expect(stats.failures).toEqual([]);
    expect(stats.writes).toBeGreaterThan(10);
    const q = pg ? '"_zm_amount"' : '`_zm_amount`';
    const wrong = rowsOf<{ n: number | string }>(
      await db.knex.raw(`SELECT COUNT(*) AS n FROM orders WHERE ${q} IS NULL OR ${q} <> amount * 2`),
    );
    expect(Number(wrong[0].n)).toBe(0);
  });

  test('a table without a primary key is refused before anything changes', async () => {
    await db.knex.raw('CREATE TABLE logs (line text, n integer)');
    writeFileSync(path.join(dir, '0001_logs.ts'), migrationSource(["op.alterColumn('logs', 'n', { type: 'bigint', up: 'n', down: 'n' })"]));
    const result = await cli('expand');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: 0001_logs: table "logs" has no primary key, which the backfill needs to walk it in batches/m);
    const columns = rowsOf<{ c: string }>(
      await db.knex.raw(
        pg
          ? "SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'logs' ORDER BY ordinal_position"
          : "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'logs' ORDER BY ordinal_position",
      ),
    );
    expect(columns.map((r) => r.c)).toEqual(['line', 'n']);
    const status = JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<{ phase: string }> };
    expect(status.migrations[0].phase).toBe('pending');
  });

  test('composite primary keys are walked in order', async () => {
    await db.knex.raw(
      'CREATE TABLE order_lines (order_id integer NOT NULL, line integer NOT NULL, qty integer NOT NULL, PRIMARY KEY (order_id, line))',
    );
    const rows = [];
    for (let o = 1; o <= 300; o++) for (let l = 1; l <= 7; l++) rows.push({ order_id: o, line: l, qty: o * 10 + l });
    for (let i = 0; i < rows.length; i += 500) await db.knex('order_lines').insert(rows.slice(i, i + 500));
    writeFileSync(
      path.join(dir, '0001_qty.ts'),
      migrationSource(["op.alterColumn('order_lines', 'qty', { type: 'bigint', up: 'qty + 1', down: 'qty - 1' })"]),
    );
    const expand = await cli('expand', '--batch-size', '50');
    expect(expand.code).toBe(0);
    const q = pg ? '"_zm_qty"' : '`_zm_qty`';
    const wrong = rowsOf<{ n: number | string }>(
      await db.knex.raw(`SELECT COUNT(*) AS n FROM order_lines WHERE ${q} IS NULL OR ${q} <> qty + 1`),
    );
    expect(Number(wrong[0].n)).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    const sum = rowsOf<{ s: number | string }>(await db.knex.raw('SELECT SUM(qty) AS s FROM order_lines'));
    expect(Number(sum[0].s)).toBe(rows.reduce((a, r) => a + r.qty + 1, 0));
  });
});
