/**
 * Issue 5: the backfill resumes from its checkpoint after SIGKILL without
 * redoing finished batches, its verification catches a corrupted row (and
 * contract refuses), it terminates under constant inserts, walks composite
 * keys, and walks a table without a primary key by a unique NOT NULL key, or
 * on PostgreSQL by ctid page ranges; MySQL/MariaDB refuse a table with neither.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli, type CliResult } from './support/cli';
import { rowsOf, startWriter, waitFor, waitUntil } from './support/apps';
import { kill9, startCli, type RunningCli } from './support/process';

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
      // A superuser's backfill runs as a replica session, where only ENABLE ALWAYS triggers fire: this one must see it.
      await db.knex.raw('ALTER TABLE orders ENABLE ALWAYS TRIGGER count_touch');
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

  /**
   * SIGKILLs the run once its first checkpoint is saved (the kill then lands part-way, with
   * something to resume from), however slowly a loaded machine gets it there.
   */
  async function killOnceCheckpointed(running: RunningCli): Promise<CliResult> {
    for (const deadline = Date.now() + 30_000; !(await checkpoint())?.last && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 50));
    return kill9(running);
  }

  /** Writes behind the triggers' back: the backfill's own flag makes them stand aside. */
  async function behindTriggers(write: (trx: Knex.Transaction) => Promise<unknown>): Promise<void> {
    const trx = await db.knex.transaction();
    await trx.raw(pg ? "SELECT set_config('zmigrate.backfill', 'on', true)" : 'SET @zmigrate_backfill = 1');
    await write(trx);
    if (!pg) await trx.raw('SET @zmigrate_backfill = NULL');
    await trx.commit();
  }

  test.each(['1', '3'])(
    'killed mid-backfill (--jobs %s), it resumes from the checkpoint without redoing finished batches',
    async (jobs) => {
      await ordersTable();
      writeFileSync(path.join(dir, '0001_amount.ts'), ALTER);
      const env = { ZMIGRATE_DATABASE_URL: db.url };
      // The same pace whatever the jobs, so the kill lands half-way.
      const delay = String(30 * Number(jobs));
      const running = startCli(['expand', '--dir', dir, '--batch-size', '500', '--batch-delay', delay, '--jobs', jobs], env);
      await running.waitForStderr(/backfill orders\._zm_amount/);
      const killed = await killOnceCheckpointed(running);
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

      const rerun = await cli('expand', '--batch-size', '500', '--jobs', jobs);
      expect(rerun.code).toBe(0);
      expect(rerun.stderr).toContain('(resuming)');
      // Its last lines say when the backfill and the verification ended, and after how long.
      expect(rerun.stderr).toMatch(/^ {2}· backfill orders: [\d,]+ .*rows, done in \d.* s$/m);
      expect(rerun.stderr).toMatch(/^ {2}· verified orders\.amount \(new\) = up\(old\) on every row in \d.* s$/m);
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
    },
  );

  test('a dense integer key is cut by spans of key values, past 2^53, holes and all; killed, it resumes from a span', async () => {
    // Keys from just below 2^53 to past it, every tenth missing: 0.9 rows per value, dense enough for spans.
    const base = 9007199254740000n;
    const rows = 4500;
    await db.knex.raw('CREATE TABLE ledger (id bigint PRIMARY KEY, amount integer NOT NULL)');
    const ids = Array.from({ length: 5000 }, (_, i) => i + 1)
      .filter((g) => g % 10 !== 0)
      .map((g) => String(base + BigInt(g)));
    for (let i = 0; i < ids.length; i += 500) await db.knex('ledger').insert(ids.slice(i, i + 500).map((id, j) => ({ id, amount: i + j })));
    await db.knex.raw(pg ? 'ANALYZE ledger' : 'ANALYZE TABLE ledger');
    writeFileSync(
      path.join(dir, '0001_amount.ts'),
      migrationSource(["op.alterColumn('ledger', 'amount', { type: 'bigint', up: 'amount * 2', down: 'amount / 2' })"]),
    );
    const running = startCli(['expand', '--dir', dir, '--batch-size', '500', '--batch-delay', '300', '--jobs', '1'], {
      ZMIGRATE_DATABASE_URL: db.url,
    });
    await running.waitForStderr(/(backfill|copy) ledger/);
    expect((await killOnceCheckpointed(running)).signal).toBe('SIGKILL');
    // A span's end, not the 500th key (which the holes would put at base + 555).
    const last = BigInt(String((await checkpoint())!.last![0]));
    expect(last - base).toBeGreaterThan(0n);
    expect((last - base) % 500n).toBe(0n);

    const rerun = await cli('expand', '--batch-size', '500');
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain('(resuming)');
    const status = JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<{ backfilledRows: number | null }> };
    expect(status.migrations[0].backfilledRows).toBe(rows);
    const q = pg ? '"_zm_amount"' : '`_zm_amount`';
    const [tally] = rowsOf<{ n: number | string; wrong: number | string | null }>(
      await db.knex.raw(`SELECT COUNT(*) AS n, SUM(CASE WHEN ${q} = amount * 2 THEN 0 ELSE 1 END) AS wrong FROM ledger`),
    );
    expect([Number(tally.n), Number(tally.wrong)]).toEqual([rows, 0]);
  });

  if (pg) {
    test("on PostgreSQL a migration user who may set session_replication_role backfills with the table's own triggers silent", async () => {
      await ordersTable(2000);
      writeFileSync(path.join(dir, '0001_amount.ts'), ALTER);
      await db.knex.raw('ALTER TABLE orders ENABLE TRIGGER count_touch');
      expect((await cli('expand')).code).toBe(0);
      const touched = rowsOf<{ touches: number; n: string }>(
        await db.knex.raw('SELECT touches, COUNT(*) AS n FROM orders GROUP BY touches'),
      );
      expect(touched.map((r) => [Number(r.touches), Number(r.n)])).toEqual([[0, 2000]]);
      // An app's update still fires it, and the dual-write trigger too.
      await db.knex.raw('UPDATE orders SET amount = 7 WHERE id = 1');
      const row = rowsOf<{ touches: number; helper: string }>(
        await db.knex.raw('SELECT touches, "_zm_amount" AS helper FROM orders WHERE id = 1'),
      );
      expect(row.map((r) => [Number(r.touches), Number(r.helper)])).toEqual([[1, 14]]);
    });
  }

  test('verification catches a corrupted row, and contract refuses naming it', async () => {
    await ordersTable(3000);
    writeFileSync(path.join(dir, '0001_amount.ts'), ALTER);
    expect((await cli('expand')).code).toBe(0);
    // Corrupt one row behind the triggers' back.
    await behindTriggers((trx) =>
      trx.raw(pg ? 'UPDATE orders SET "_zm_amount" = -7 WHERE id = 1234' : 'UPDATE orders SET `_zm_amount` = -7 WHERE id = 1234'),
    );

    const check = await cli('backfill');
    expect(check.code).toBe(1);
    expect(check.stderr).not.toContain('verified orders.amount');
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

  test('alterColumn to NOT NULL whose up leaves NULLs stops the expand naming the rows, and contract refuses', async () => {
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, note varchar(100) NULL)');
    await db.knex.raw(
      pg
        ? "INSERT INTO orders SELECT g, CASE WHEN g % 500 = 7 THEN NULL ELSE 'n' || g END FROM generate_series(1, 3000) g"
        : "INSERT INTO orders SELECT seq, CASE WHEN seq % 500 = 7 THEN NULL ELSE CONCAT('n', seq) END FROM seq_1_to_3000",
    );
    writeFileSync(
      path.join(dir, '0001_note.ts'),
      migrationSource(["op.alterColumn('orders', 'note', { type: 'varchar(200)', nullable: false, up: 'note', down: 'note' })"]),
    );
    const expand = await cli('expand');
    expect(expand.code).toBe(1);
    // The first five rows it finds (on PostgreSQL in page order, where the backfill's updates moved row 7).
    const failed = /verification failed: orders\.note \(new\) is not null does not hold for rows with key ([\d, ]+)$/m.exec(expand.stderr);
    const keys = failed![1].split(', ').map(Number);
    expect(keys).toHaveLength(5);
    expect(keys.every((k) => k % 500 === 7)).toBe(true);
    const contract = await cli('contract');
    expect(contract.code).toBe(2);
    expect(contract.stderr).toMatch(/^error: 0001_note is expanding; .*orders\.note \(new\) is not null does not hold/m);
    // Nothing contracted: the old column is still there, and rollback undoes the expand.
    expect(await columnsOf('orders')).toEqual(['id', 'note', '_zm_note']);
    expect((await cli('rollback')).code).toBe(0);
    expect(await columnsOf('orders')).toEqual(['id', 'note']);
  });

  test("verification holds each row to up's value as the new column's type stores it: a rounding the new type makes is no mismatch, a wrong value is", async () => {
    // Old columns whose values the new types round: to a scale, to an integer, to a float, to whole seconds.
    await db.knex.raw(
      `CREATE TABLE prices (id integer PRIMARY KEY, price double precision, ratio decimal(12,4), weight double precision, at ${pg ? 'timestamp(6)' : 'datetime(6)'})`,
    );
    await db.knex('prices').insert([
      { id: 1, price: 12.345, ratio: 2.5, weight: 0.1, at: '2024-05-01 10:00:00.25' },
      { id: 2, price: -1.005, ratio: -0.4999, weight: 1.0000001, at: '2024-05-01 23:59:59.000001' },
      { id: 3, price: null, ratio: null, weight: null, at: null },
      { id: 4, price: 7, ratio: 3, weight: 2, at: '2024-05-01 00:00:00' },
    ]);
    writeFileSync(
      path.join(dir, '0001_prices.ts'),
      migrationSource([
        "op.alterColumn('prices', 'price', { type: 'decimal(12,2)', up: 'price', down: 'price' })",
        "op.alterColumn('prices', 'ratio', { type: 'integer', up: 'ratio', down: 'ratio' })",
        `op.alterColumn('prices', 'weight', { type: '${pg ? 'real' : 'float'}', up: 'weight', down: 'weight' })`,
        `op.alterColumn('prices', 'at', { type: '${pg ? 'timestamp(0)' : 'datetime'}', up: 'at', down: 'at' })`,
      ]),
    );
    expect(outcome(await cli('expand'))).toEqual({ code: 0, errors: [] });
    const helpers = (column: string) => (pg ? `"_zm_${column}"` : `\`_zm_${column}\``);
    const stored = rowsOf<{ price: string | null; ratio: number | string | null }>(
      await db.knex.raw(`SELECT ${helpers('price')} AS price, ${helpers('ratio')} AS ratio FROM prices ORDER BY id`),
    );
    expect(stored.map((r) => [r.price, r.ratio === null ? null : Number(r.ratio)])).toEqual([
      ['12.35', 3],
      ['-1.01', 0],
      [null, null],
      ['7.00', 3],
    ]);
    // A value other than the one the new type makes of up is still a mismatch.
    await behindTriggers((trx) => trx.raw(`UPDATE prices SET ${helpers('price')} = 12.34 WHERE id = 1`));
    const check = await cli('backfill');
    expect(check.code).toBe(1);
    // Once expanded, a NULL there may be the new app's (on PostgreSQL, where the column may end NULL): only other values are held to up.
    expect(check.stdout).toContain(
      `0001_prices: verification failed: prices.price (new) = up(old)${pg ? ' where not NULL' : ''} does not hold for rows with key 1`,
    );
  });

  test("a rerun after the new app wrote a column added with up keeps the new app's values and lets contract go ahead", async () => {
    await ordersTable(3000);
    writeFileSync(
      path.join(dir, '0001_label.ts'),
      migrationSource([`op.addColumn('orders', 'label', { type: 'varchar(40)', up: "CONCAT('order ', id)" })`]),
    );
    expect((await cli('expand')).code).toBe(0);
    const v2 = db.versionKnex(`${db.base}_0001_label`);
    await v2('orders').where({ id: 7 }).update({ label: 'gift' });
    // NULL from the new app: the trigger fills the row from up, as it would have for the old app.
    await v2('orders').where({ id: 8 }).update({ label: null });
    // A row that lost its value behind the triggers' back is filled again.
    await behindTriggers((trx) => trx('orders').where({ id: 9 }).update({ label: null }));
    const labels = async () =>
      rowsOf<{ id: number; label: string | null }>(await db.knex.raw('SELECT id, label FROM orders WHERE id IN (7, 8, 9) ORDER BY id'));
    expect(await labels()).toEqual([
      { id: 7, label: 'gift' },
      { id: 8, label: 'order 8' },
      { id: 9, label: null },
    ]);

    const rerun = await cli('backfill');
    expect(rerun.stdout).toContain('0001_label: backfilled and verified');
    expect(rerun.stderr).toContain('verified orders.label is filled where up(row) gives a value on every row');
    expect(rerun.code).toBe(0);
    expect(await labels()).toEqual([
      { id: 7, label: 'gift' },
      { id: 8, label: 'order 8' },
      { id: 9, label: 'order 9' },
    ]);
    expect((await cli('contract')).code).toBe(0);
    expect(await labels()).toEqual([
      { id: 7, label: 'gift' },
      { id: 8, label: 'order 8' },
      { id: 9, label: 'order 9' },
    ]);
  });

  test('verification in segments side by side names wrong rows from every segment', async () => {
    await ordersTable(3000);
    writeFileSync(path.join(dir, '0001_amount.ts'), ALTER);
    expect((await cli('expand')).code).toBe(0);
    // Rows near the start, at the cuts between three segments, and at the very end.
    await behindTriggers((trx) => trx('orders').whereIn('id', [1, 1000, 1001, 2000, 2001, 3000]).update({ _zm_amount: -7 }));
    for (const jobs of ['1', '3']) {
      const check = await cli('backfill', '--jobs', jobs);
      expect(check.code).toBe(1);
      const keys = (/for rows with key (.*)$/m.exec(check.stdout)?.[1] ?? '').split(', ').map(Number);
      // In key order on MySQL/MariaDB; in the order of the pages on PostgreSQL, where the backfill moved rows.
      if (pg) {
        expect(new Set(keys).size).toBe(5);
        expect(keys.filter((k) => ![1, 1000, 1001, 2000, 2001, 3000].includes(k))).toEqual([]);
      } else expect(keys).toEqual([1, 1000, 1001, 2000, 2001]);
    }
  });

  test('verification cuts integer keys by value, sparse, negative and near the ends of bigint; keys of digits in text stay in their own order', async () => {
    await db.knex.raw('CREATE TABLE sparse (id bigint PRIMARY KEY, amount integer NOT NULL)');
    await db.knex.raw('CREATE TABLE codes (code varchar(20) PRIMARY KEY, amount integer NOT NULL)');
    const ids = ['-9223372036854775808', '-5', '0', '7', '1000000000000', '9223372036854775806', '9223372036854775807'];
    for (let i = 1; i <= 2000; i++) ids.push(String(i * 1_000_003));
    for (let i = 0; i < ids.length; i += 500) await db.knex('sparse').insert(ids.slice(i, i + 500).map((id, j) => ({ id, amount: i + j })));
    const codes = ['1', '10', '100', '1000', '2', '20', '9', '99', '999', 'x'];
    await db.knex('codes').insert(codes.map((code, i) => ({ code, amount: i })));
    writeFileSync(
      path.join(dir, '0001_widen.ts'),
      migrationSource([
        "op.alterColumn('sparse', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })",
        "op.alterColumn('codes', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })",
      ]),
    );
    expect((await cli('expand')).code).toBe(0);
    const corrupt = (table: string, keys: string[]) =>
      behindTriggers((trx) =>
        trx(table)
          .whereIn(table === 'sparse' ? 'id' : 'code', keys)
          .update({ _zm_amount: -1 }),
      );
    await corrupt('sparse', ['-9223372036854775808', '1000000000000', '9223372036854775807']);
    for (const jobs of ['1', '2', '4']) {
      const check = await cli('backfill', '--jobs', jobs);
      expect(check.code).toBe(1);
      const keys = (/ with key (.*)$/m.exec(check.stdout)?.[1] ?? '').split(', ');
      // In key order on MySQL/MariaDB; in the order of the pages on PostgreSQL.
      const expected = ['-9223372036854775808', '1000000000000', '9223372036854775807'];
      expect(pg ? [...keys].sort() : keys).toEqual(pg ? [...expected].sort() : expected);
    }
    // The old app rewrites the rows, so the trigger derives them again; then the text keys.
    await db.knex('sparse').update({ amount: db.knex.raw('amount + 1') });
    await corrupt('codes', ['9', '99', '999']);
    for (const jobs of ['1', '2', '4']) {
      const check = await cli('backfill', '--jobs', jobs);
      expect(check.code).toBe(1);
      expect(check.stdout).toMatch(/codes\.amount \(new\) = up\(old\) does not hold for rows with key /);
      const keys = (/ with key (.*)$/m.exec(check.stdout)?.[1] ?? '').split(', ');
      expect([...keys].sort()).toEqual(['9', '99', '999']);
    }
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

  /** Whether zmigrate's trigger on orders fires on UPDATE (PostgreSQL: bit 16 of tgtype). */
  async function triggerOnUpdate(): Promise<boolean> {
    const [row] = rowsOf<{ updates: boolean }>(
      await db.knex.raw("SELECT (tgtype & 16) <> 0 AS updates FROM pg_trigger WHERE tgname LIKE '~\\_zm\\_%' AND NOT tgisinternal"),
    );
    return row.updates;
  }

  test.each([
    ['no index on amount', false],
    ['a unique index on amount', true],
  ])('rows the apps update while the backfill runs end up right (%s)', async (_, unique) => {
    // No trigger of the user's: on PostgreSQL the backfill then runs under zmigrate's trigger for inserts only.
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, amount integer NOT NULL, note text)');
    await db.knex.raw(
      pg
        ? 'INSERT INTO orders (id, amount) SELECT g, g FROM generate_series(1, 4000) g'
        : 'INSERT INTO orders (id, amount) SELECT seq, seq FROM seq_1_to_4000',
    );
    if (unique) await db.knex.raw('CREATE UNIQUE INDEX orders_amount ON orders (amount)');
    writeFileSync(path.join(dir, '0001_amount.ts'), ALTER);
    const running = startCli(['expand', '--dir', dir, '--batch-size', '200', '--batch-delay', '100', '--jobs', '1'], {
      ZMIGRATE_DATABASE_URL: db.url,
    });
    await running.waitForStderr(/backfill orders\._zm_amount|copy orders/);
    let upTo = 0;
    await waitUntil('the backfill to pass row 400, or the expand to end', async () => {
      upTo = Number((await checkpoint())?.last?.[0] ?? 0);
      return running.ended || upTo >= 400;
    });
    expect({ upTo: upTo >= 400 ? '400 or more' : upTo, running: !running.ended }).toEqual({ upTo: '400 or more', running: true });
    // While it runs: the UPDATE part of the trigger waits for the backfill's end, unless a unique index
    // on the column it fills could see a stale value clash with a new one.
    if (pg) expect(await triggerOnUpdate()).toBe(unique);
    // Rows already backfilled, and rows not yet: a new amount each (clear of the others, for the unique index).
    await db.knex.raw('UPDATE orders SET amount = amount + 100000 WHERE id <= 100 OR id > 3900');
    const q = pg ? '"_zm_amount"' : '`_zm_amount`';
    if (pg && !unique) {
      // The full trigger is on, and the redo walks the table (the rows updated above last, on its last pages):
      // until the expand ends, an update of a row left behind fills it again, whatever it changes.
      await running.waitForStderr(/fill _zm_amount of the rows of orders updated during the backfill/);
      const trx = await db.knex.transaction();
      const [before] = rowsOf<{ v: number | string }>(await trx.raw(`SELECT ${q} AS v FROM orders WHERE id = 50 FOR UPDATE`));
      expect(Number(before.v)).toBe(100);
      await trx.raw("UPDATE orders SET note = 'seen' WHERE id = 50");
      const [after] = rowsOf<{ v: number | string }>(await trx.raw(`SELECT ${q} AS v FROM orders WHERE id = 50`));
      expect(Number(after.v)).toBe(200_100);
      await trx.commit();
    }
    const expand = await running.done;
    expect(expand.code).toBe(0);
    if (pg) expect(await triggerOnUpdate()).toBe(true);
    const wrong = rowsOf<{ n: number | string }>(
      await db.knex.raw(`SELECT COUNT(*) AS n FROM orders WHERE ${q} IS NULL OR ${q} <> amount * 2`),
    );
    expect(Number(wrong[0].n)).toBe(0);
    const moved = rowsOf<{ n: number | string }>(await db.knex.raw(`SELECT COUNT(*) AS n FROM orders WHERE ${q} > 200000`));
    expect(Number(moved[0].n)).toBe(200);
    // After the expand the lasting rules hold: an update of the old column derives the new one, and a value
    // the new app wrote stays when another column changes, though up(down(7)) is not 7.
    await db.knex.raw('UPDATE orders SET amount = 700000 WHERE id = 2000');
    await db.knex.raw(`UPDATE orders SET ${q} = 7 WHERE id = 3000`);
    await db.knex.raw("UPDATE orders SET note = 'later' WHERE id = 3000");
    const values = rowsOf<{ id: number; v: number | string }>(
      await db.knex.raw(`SELECT id, ${q} AS v FROM orders WHERE id IN (2000, 3000) ORDER BY id`),
    );
    expect(values.map((r) => Number(r.v))).toEqual([1_400_000, 7]);
  });

  /** Column names of a table, in order. */
  async function columnsOf(table: string): Promise<string[]> {
    const rows = rowsOf<{ c: string }>(
      await db.knex.raw(
        pg
          ? 'SELECT column_name AS c FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position'
          : 'SELECT column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position',
        [table],
      ),
    );
    return rows.map((r) => r.c);
  }

  test('a table whose only key is unique over NOT NULL columns is walked by it, verified by it, and resumes after SIGKILL', async () => {
    // Two usable unique keys (the one-column key wins) and a NULLable one named to sort first (never used).
    await db.knex.raw(
      `CREATE TABLE accounts (code varchar(20) NOT NULL, region integer NOT NULL, amount integer NOT NULL, nick varchar(20) NULL,
         CONSTRAINT accounts_region_code UNIQUE (region, code), CONSTRAINT accounts_code UNIQUE (code), CONSTRAINT a_nick UNIQUE (nick))`,
    );
    await db.knex.raw(
      pg
        ? "INSERT INTO accounts (code, region, amount) SELECT 'c' || lpad(g::text, 6, '0'), g % 7, g % 1000 FROM generate_series(1, ?) g"
        : "INSERT INTO accounts (code, region, amount) SELECT CONCAT('c', LPAD(seq, 6, '0')), seq % 7, seq % 1000 FROM seq_1_to_" +
            Number(ROWS),
      pg ? [ROWS] : [],
    );
    writeFileSync(
      path.join(dir, '0001_amount.ts'),
      migrationSource(["op.alterColumn('accounts', 'amount', { type: 'bigint', up: 'amount * 2', down: 'amount / 2' })"]),
    );
    const plan = await cli('plan');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(pg ? 'in batches by key ("code")' : 'in batches by key (`code`)');

    const running = startCli(['expand', '--dir', dir, '--batch-size', '500', '--batch-delay', '30'], { ZMIGRATE_DATABASE_URL: db.url });
    await running.waitForStderr(/backfill accounts\._zm_amount|copy accounts into/);
    expect((await killOnceCheckpointed(running)).signal).toBe('SIGKILL');
    const saved = await checkpoint();
    // The checkpoint is a position on the unique key, part-way through.
    expect(saved?.last).toEqual([expect.stringMatching(/^c\d{6}$/)]);
    expect(String(saved!.last![0]) > 'c000000').toBe(true);
    expect(String(saved!.last![0]) < `c${String(ROWS).padStart(6, '0')}`).toBe(true);

    const rerun = await cli('expand', '--batch-size', '500');
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain('(resuming)');
    const status = JSON.parse((await cli('status', '--json')).stdout) as {
      migrations: Array<{ phase: string; backfilledRows: number | null }>;
    };
    expect(status.migrations[0]).toMatchObject({ phase: 'expanded', backfilledRows: ROWS });
    const q = pg ? '"_zm_amount"' : '`_zm_amount`';
    const wrong = rowsOf<{ n: number | string }>(
      await db.knex.raw(`SELECT COUNT(*) AS n FROM accounts WHERE ${q} IS NULL OR ${q} <> amount * 2`),
    );
    expect(Number(wrong[0].n)).toBe(0);

    // Verification walks the same key and names the broken row by it.
    const trx = await db.knex.transaction();
    await trx.raw(pg ? "SELECT set_config('zmigrate.backfill', 'on', true)" : 'SET @zmigrate_backfill = 1');
    await trx.raw(`UPDATE accounts SET ${q} = -7 WHERE code = 'c012345'`);
    if (!pg) await trx.raw('SET @zmigrate_backfill = NULL');
    await trx.commit();
    const check = await cli('backfill');
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(
      '0001_amount: verification failed: accounts.amount (new) = up(old) does not hold for rows with key c012345',
    );
    await db.knex.raw("UPDATE accounts SET amount = amount + 1 WHERE code = 'c012345'");
    expect((await cli('backfill')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    const sum = rowsOf<{ s: number | string }>(await db.knex.raw('SELECT SUM(amount) AS s FROM accounts'));
    let expected = 0;
    for (let g = 1; g <= ROWS; g++) expected += (g % 1000) * 2;
    // The repaired row: the old app's amount + 1 made the trigger derive it again.
    expect(Number(sum[0].s)).toBe(expected + 2);
  });

  test('a binary primary key (a UUID kept in 16 bytes): killed mid-walk, the rerun resumes from the binary key saved', async () => {
    await db.knex.raw(
      pg
        ? 'CREATE TABLE devices (id bytea PRIMARY KEY, amount integer NOT NULL)'
        : 'CREATE TABLE devices (id BINARY(16) PRIMARY KEY, amount integer NOT NULL)',
    );
    await db.knex.raw(
      pg
        ? "INSERT INTO devices SELECT decode(md5(g::text), 'hex'), g % 1000 FROM generate_series(1, ?) g"
        : 'INSERT INTO devices SELECT UNHEX(MD5(seq)), seq % 1000 FROM seq_1_to_' + Number(ROWS),
      pg ? [ROWS] : [],
    );
    writeFileSync(
      path.join(dir, '0001_amount.ts'),
      migrationSource(["op.alterColumn('devices', 'amount', { type: 'bigint', up: 'amount * 2', down: 'amount / 2' })"]),
    );
    const running = startCli(['expand', '--dir', dir, '--batch-size', '500', '--batch-delay', '30'], { ZMIGRATE_DATABASE_URL: db.url });
    await running.waitForStderr(/backfill devices\._zm_amount|copy devices into/);
    expect((await killOnceCheckpointed(running)).signal).toBe('SIGKILL');
    const rerun = await cli('expand', '--batch-size', '500');
    expect(outcome(rerun)).toEqual({ code: 0, errors: [] });
    expect(rerun.stderr).toContain('(resuming)');
    const q = pg ? '"_zm_amount"' : '`_zm_amount`';
    const [counts] = rowsOf<{ n: number | string; wrong: number | string }>(
      await db.knex.raw(`SELECT COUNT(*) AS n, SUM(CASE WHEN ${q} = amount * 2 THEN 0 ELSE 1 END) AS wrong FROM devices`),
    );
    expect({ n: Number(counts.n), wrong: Number(counts.wrong) }).toEqual({ n: ROWS, wrong: 0 });
    // A row the verification finds wrong is named by its key as a hexadecimal literal.
    await behindTriggers((trx) =>
      trx.raw(`UPDATE devices SET ${q} = -7 WHERE id = ${pg ? "decode(md5('42'), 'hex')" : "UNHEX(MD5('42'))"}`),
    );
    const check = await cli('backfill');
    expect(check.stdout).toContain('does not hold for rows with key 0xa1d0c6e83f027327d8461063f4ac58a6');
  });

  if (pg) {
    test('a table with no key at all is walked by ctid page ranges, under concurrent updates and inserts, and resumes after SIGKILL', async () => {
      await db.knex.raw('CREATE TABLE events (n integer, amount integer, payload text)');
      await db.knex.raw("INSERT INTO events (n, amount, payload) SELECT g, g % 1000, repeat('x', 40) FROM generate_series(1, ?) g", [ROWS]);
      writeFileSync(
        path.join(dir, '0001_amount.ts'),
        migrationSource(["op.alterColumn('events', 'amount', { type: 'bigint', up: 'amount * 2', down: 'amount / 2' })"]),
      );
      const plan = await cli('plan');
      expect(plan.stdout).toContain('in batches by ctid page ranges');

      const running = startCli(['expand', '--dir', dir, '--batch-size', '500', '--batch-delay', '30'], { ZMIGRATE_DATABASE_URL: db.url });
      await running.waitForStderr(/backfill events\._zm_amount/);
      // From the backfill's start, when the triggers are in place, the old app updates rows all over the table
      // (each update moves the row to a new place) and inserts new ones. (A row inserted before the triggers
      // would be the backfill's to fill, beyond the ROWS it may count.)
      const writer = startWriter(
        async (i) => {
          if (i % 4 === 3) await db.knex.raw('INSERT INTO events (n, amount) VALUES (?, ?)', [ROWS + i, i % 1000]);
          else await db.knex.raw('UPDATE events SET amount = amount + 1 WHERE n = ?', [((i * 7919) % ROWS) + 1]);
        },
        { pauseMs: 1 },
      );
      expect((await killOnceCheckpointed(running)).signal).toBe('SIGKILL');
      const saved = await checkpoint();
      // Positions are page numbers, part-way through the table.
      expect(saved?.last).toEqual([expect.any(Number)]);
      const pages = rowsOf<{ p: number | string }>(
        await db.knex.raw("SELECT pg_relation_size('events') / current_setting('block_size')::bigint AS p"),
      );
      expect(Number(saved!.last![0])).toBeGreaterThan(0);
      expect(Number(saved!.last![0])).toBeLessThan(Number(pages[0].p));

      const rerun = await cli('expand', '--batch-size', '500');
      const stats = await writer.stop();
      expect(rerun.code).toBe(0);
      expect(rerun.stderr).toContain('(resuming)');
      expect(stats.failures).toEqual([]);
      expect(stats.writes).toBeGreaterThan(20);
      // Rows the backfill's own updates moved ahead are not counted twice.
      const status = JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<{ backfilledRows: number | null }> };
      expect(status.migrations[0].backfilledRows).toBeGreaterThan(0);
      expect(status.migrations[0].backfilledRows).toBeLessThanOrEqual(ROWS);
      const wrong = rowsOf<{ n: number | string }>(
        await db.knex.raw('SELECT COUNT(*) AS n FROM events WHERE "_zm_amount" IS NULL OR "_zm_amount" <> amount * 2'),
      );
      expect(Number(wrong[0].n)).toBe(0);

      // Verification walks page ranges too, and names a broken row by its ctid.
      const [broken] = rowsOf<{ ctid: string }>(await db.knex.raw('SELECT ctid::text AS ctid FROM events WHERE n = 4321'));
      const trx = await db.knex.transaction();
      await trx.raw("SELECT set_config('zmigrate.backfill', 'on', true)");
      await trx.raw('UPDATE events SET "_zm_amount" = -7 WHERE ctid = ?::tid', [broken.ctid]);
      await trx.commit();
      const [moved] = rowsOf<{ ctid: string }>(await db.knex.raw('SELECT ctid::text AS ctid FROM events WHERE n = 4321'));
      const check = await cli('backfill');
      expect(check.code).toBe(1);
      expect(check.stdout).toContain(`does not hold for rows with ctid ${moved.ctid}`);
      await db.knex.raw('UPDATE events SET amount = amount + 1 WHERE n = 4321');
      expect((await cli('backfill')).code).toBe(0);

      const before = rowsOf<{ s: number | string; c: number | string }>(
        await db.knex.raw('SELECT SUM(amount) AS s, COUNT(*) AS c FROM events'),
      );
      expect((await cli('contract')).code).toBe(0);
      const after = rowsOf<{ s: number | string; c: number | string; t: string }>(
        await db.knex.raw(
          "SELECT SUM(amount) AS s, COUNT(*) AS c, (SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'events' AND column_name = 'amount') AS t FROM events",
        ),
      );
      expect(Number(after[0].c)).toBe(Number(before[0].c));
      expect(Number(after[0].s)).toBe(2 * Number(before[0].s));
      expect(after[0].t).toBe('bigint');
    });
  } else {
    test('a table whose only unique key has a NULLable column is refused before anything changes', async () => {
      await db.knex.raw('CREATE TABLE logs (line text, n integer, code varchar(20) NULL, CONSTRAINT logs_code UNIQUE (code))');
      await db.knex.raw("INSERT INTO logs (line, n, code) VALUES ('a', 1, 'x'), ('b', 2, NULL)");
      writeFileSync(
        path.join(dir, '0001_logs.ts'),
        migrationSource(["op.alterColumn('logs', 'n', { type: 'bigint', up: 'n', down: 'n' })"]),
      );
      const result = await cli('expand');
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /^error: 0001_logs: table "logs" has no primary key, and its unique keys have NULLable columns: "logs_code" \(code\), which the backfill needs to walk it in batches on MySQL\/MariaDB/m,
      );
      expect(result.stderr).toContain('add a primary key, or a unique key over NOT NULL columns');
      expect(await columnsOf('logs')).toEqual(['line', 'n', 'code']);
      const indexes = rowsOf<{ name: string }>(
        await db.knex.raw(
          "SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'logs'",
        ),
      );
      expect(indexes.map((r) => r.name)).toEqual(['logs_code']);
      const triggers = rowsOf(await db.knex.raw('SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()'));
      expect(triggers).toEqual([]);
      const status = JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<{ phase: string }> };
      expect(status.migrations[0].phase).toBe('pending');

      // Without any unique key the refusal says so.
      await db.knex.raw('CREATE TABLE bare (line text, n integer)');
      writeFileSync(
        path.join(dir, '0001_logs.ts'),
        migrationSource(["op.alterColumn('bare', 'n', { type: 'bigint', up: 'n', down: 'n' })"]),
      );
      const bare = await cli('expand');
      expect(bare.code).toBe(2);
      expect(bare.stderr).toMatch(
        /^error: 0001_logs: table "bare" has no primary key and no unique key over NOT NULL columns, which the backfill/m,
      );
      expect(await columnsOf('bare')).toEqual(['line', 'n']);
    });
  }

  test('a backfill job walks a unique NOT NULL key; a table with no such key is refused for a job', async () => {
    await db.knex.raw(
      'CREATE TABLE tags (slug varchar(20) NOT NULL, label varchar(40) NOT NULL, shout varchar(40) NULL, CONSTRAINT tags_slug UNIQUE (slug))',
    );
    const tags = Array.from({ length: 1200 }, (_, i) => ({ slug: `t${String(i).padStart(5, '0')}`, label: `tag ${i}` }));
    for (let i = 0; i < tags.length; i += 400) await db.knex('tags').insert(tags.slice(i, i + 400));
    const job = (table: string) => `import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  backfill: op.backfill('${table}', {
    columns: ['label'],
    batchSize: 250,
    batch: async (rows, { knex }) => {
      for (const r of rows) await knex('${table}').where({ slug: r.slug }).update({ shout: String(r.label).toUpperCase() });
    },
  }),
  expand: async () => {},
});
`;
    writeFileSync(path.join(dir, '0001_shout.ts'), job('tags'));
    expect((await cli('plan')).stdout).toContain(pg ? 'in batches by key ("slug")' : 'in batches by key (`slug`)');
    expect((await cli('expand')).code).toBe(0);
    const wrong = rowsOf<{ n: number | string }>(
      await db.knex.raw('SELECT COUNT(*) AS n FROM tags WHERE shout IS NULL OR shout <> UPPER(label)'),
    );
    expect(Number(wrong[0].n)).toBe(0);

    // A job writes rows back by their key, so a row address (ctid) will not do, even on PostgreSQL.
    await db.knex.raw('CREATE TABLE notes (slug varchar(20), label varchar(40), shout varchar(40))');
    writeFileSync(path.join(dir, '0002_notes.ts'), job('notes'));
    const refused = await cli('expand');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^error: 0002_notes: backfill job: table "notes" has no primary key and no unique key over NOT NULL columns, which the job needs to walk it in batches/m,
    );
    const status = JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<{ name: string; phase: string }> };
    expect(status.migrations.find((m) => m.name === '0002_notes')?.phase).toBe('pending');
  });

  test('the first batch of wide rows writes about a megabyte; narrow rows start at 1,000', async () => {
    // 1,792 characters of hex a row: stored inline on both engines (under PostgreSQL's TOAST threshold), uncompressed.
    await db.knex.raw('CREATE TABLE docs (id integer PRIMARY KEY, body text NOT NULL, n integer NOT NULL)');
    if (pg) {
      await db.knex.raw(
        "INSERT INTO docs SELECT g, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 56)), g FROM generate_series(1, 3000) g",
      );
      await db.knex.raw('ANALYZE docs');
    } else {
      await db.knex.raw(
        "INSERT INTO docs SELECT seq, (SELECT GROUP_CONCAT(MD5(RAND()) SEPARATOR '') FROM seq_1_to_56), seq FROM seq_1_to_3000",
      );
      await db.knex.raw('ANALYZE TABLE docs');
    }
    await ordersTable();
    await db.knex.raw(pg ? 'ANALYZE orders' : 'ANALYZE TABLE orders'); // its row size known: narrow
    /** Expands one more migration, with one session: the run's first progress line counts the first batch alone. */
    const firstBatch = async (name: string, operation: string, table: string): Promise<number | undefined> => {
      writeFileSync(path.join(dir, name), migrationSource([operation]));
      const expand = await cli('expand', '--jobs', '1');
      expect(expand.code).toBe(0);
      const line = new RegExp(`· backfill ${table}: ([\\d,]+)[ /]`).exec(expand.stderr);
      return line ? Number(line[1].replace(/,/g, '')) : undefined;
    };
    // About 2 kB a row with its share of the pages: some 500 rows to the megabyte.
    const wide = await firstBatch('0001_docs.ts', "op.alterColumn('docs', 'n', { type: 'bigint', up: 'n', down: 'n' })", 'docs');
    expect(wide).toBeGreaterThanOrEqual(300);
    expect(wide).toBeLessThanOrEqual(700);
    const narrow = await firstBatch(
      '0002_orders.ts',
      "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount * 2', down: 'amount / 2' })",
      'orders',
    );
    expect(narrow).toBe(1000);
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

describe('a key with microseconds on PostgreSQL', () => {
  test('the backfill and a backfill job walk every row, though the driver reads timestamps to the millisecond', async () => {
    const db = await createTestDatabase('postgres');
    try {
      // 900 readings within one millisecond: keys that a JavaScript date would cut to the same value.
      await db.knex.raw(
        'CREATE TABLE readings (sensor integer, at timestamp, value integer NOT NULL, label text, PRIMARY KEY (sensor, at))',
      );
      await db.knex.raw(
        "INSERT INTO readings SELECT 1, timestamp '2026-01-01 00:00:00' + g * interval '1 microsecond', g, NULL FROM generate_series(1, 900) g",
      );
      const dir = migrationsDir({
        '0001_widen.ts': `import { defineMigration, op } from 'zmigrate';
export default defineMigration({
  operations: [op.alterColumn('readings', 'value', { type: 'bigint', up: 'value', down: 'value' })],
  backfill: op.backfill('readings', {
    where: 'label IS NULL',
    batch: async (rows, { knex }) => {
      // By value, unique here: the row's at comes from the driver cut to the millisecond.
      for (const row of rows) await knex('readings').where({ sensor: row.sensor, value: row.value }).update({ label: 'r' + row.value });
    },
  }),
});
`,
      });
      const expand = await runCli(['expand', '--dir', dir, '--batch-size', '100'], { env: { ZMIGRATE_DATABASE_URL: db.url } });
      expect(expand.code).toBe(0);
      // The walk itself fills every row (not the pass after it over the rows the apps updated meanwhile).
      const done = expand.stderr.split('\n').filter((l) => /· backfill readings: [\d,]+ rows, done in/.test(l));
      expect(done[0]).toMatch(/backfill readings: 900 rows, done in/);
      const labels = rowsOf<{ n: unknown }>(await db.knex.raw('SELECT count(*) AS n FROM readings WHERE label IS NULL'));
      expect(Number(labels[0].n)).toBe(0);
    } finally {
      await db.drop();
    }
  });
});
