/**
 * Issue 4, the lock-queue case: a long transaction elsewhere holds a lock on
 * the table while zmigrate needs an exclusive one. Without a lock timeout
 * the DDL would wait, and every application write would queue behind it for
 * as long as the long transaction lasts. zmigrate's DDL gives up after the
 * lock timeout and retries with backoff, so writers only ever wait about one
 * lock timeout, and the migration finishes once the blocker ends.
 *
 * Nothing is timed (shared, noisy machines): the blocker holds its lock
 * until the DDL has given up twice and an app insert has completed since the
 * first time, which an app queued behind the DDL could not do.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, outcome, runCli } from './support/cli';
import { rowsOf, waitFor } from './support/apps';
import { startCli } from './support/process';

describe.each(SERVER_ENGINES)('lock timeout on %s', (engine) => {
  let db: TestDatabase;
  let dir: string;
  // MySQL/MariaDB lock_wait_timeout has whole seconds only (the last three tests show what zmigrate does about it).
  const lockTimeout = engine === 'postgres' ? '300' : '1000';
  const cli = (...args: string[]) =>
    runCli([...args, '--dir', dir, '--lock-timeout', lockTimeout], { env: { ZMIGRATE_DATABASE_URL: db.url } });

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({
      '0001_accounts.ts': migrationSource([
        "op.createTable('accounts', { columns: { id: { type: 'integer', primaryKey: true }, legacy: { type: 'varchar(10)' } } })",
      ]),
    });
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('contract')).code).toBe(0);
    writeFileSync(
      path.join(dir, '0002_change.ts'),
      migrationSource(["op.addColumn('accounts', 'note', { type: 'text', nullable: true })", "op.dropColumn('accounts', 'legacy')"]),
    );
  });
  afterAll(async () => {
    await db.drop();
  });

  /** A transaction that read the table and stays open: it holds a shared lock on it. */
  async function holdLock(): Promise<{ release: () => Promise<void> }> {
    const trx = await db.knex.transaction();
    await trx.raw('SELECT * FROM accounts');
    return {
      release: async () => {
        await trx.commit();
      },
    };
  }

  /** Inserts every few ms, counting the inserts completed. */
  function writer(firstId: number) {
    let running = true;
    let writes = 0;
    const failures: string[] = [];
    const loop = (async () => {
      for (let id = firstId; running; id++) {
        try {
          await db.knex('accounts').insert({ id });
          writes += 1;
        } catch (error) {
          failures.push((error as Error).message);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    return {
      get writes() {
        return writes;
      },
      get failures() {
        return failures;
      },
      async stop() {
        running = false;
        await loop;
        return { writes, failures };
      },
    };
  }

  /**
   * Runs `command` while a transaction holds a lock on the table and the app inserts. The blocker lets go once
   * the DDL has given up waiting twice (its retry is bounded too) and an insert has completed since it first gave
   * up: an app queued behind the DDL would complete none until the blocker ended.
   */
  async function runBlocked(command: string, firstId: number) {
    const app = writer(firstId);
    try {
      await waitFor(() => app.writes >= 5);
      const blocker = await holdLock();
      const run = startCli([command, '--dir', dir, '--lock-timeout', lockTimeout], { ZMIGRATE_DATABASE_URL: db.url });
      let whileHeld: { inserts: number; endedBeforeRelease: boolean };
      try {
        await run.waitForStderr(/lock not granted in time .* retry 1\//);
        const atRetry = app.writes;
        await run.waitForStderr(/lock not granted in time .* retry 2\//);
        await waitFor(() => app.writes > atRetry || app.failures.length > 0);
        whileHeld = { inserts: app.writes - atRetry, endedBeforeRelease: run.ended };
      } finally {
        await blocker.release();
      }
      const result = await run.done;
      return { result, stats: await app.stop(), whileHeld };
    } finally {
      await app.stop();
    }
  }

  /** A statement that the server shows waiting for a lock, matching `like` (the engine's own LIKE pattern). */
  async function waitingStatement(like: { postgres: string; mysql: string }): Promise<string | undefined> {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      const [found] = rowsOf<{ query: string }>(
        await db.knex.raw(
          engine === 'postgres'
            ? "SELECT query FROM pg_stat_activity WHERE query LIKE ? AND wait_event_type = 'Lock'"
            : "SELECT INFO AS query FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND STATE = 'Waiting for table metadata lock'",
          [engine === 'postgres' ? like.postgres : like.mysql],
        ),
      );
      if (found) return found.query;
    }
    return undefined;
  }

  test.each([
    ['expand', 10_000],
    ['contract', 20_000],
  ])('%s waits out a long transaction without queueing the app behind it', async (command, firstId) => {
    const { result, stats, whileHeld } = await runBlocked(command, firstId);
    expect(outcome(result)).toEqual({ code: 0, errors: [] });
    expect(stats.failures).toEqual([]);
    // The app's inserts went on while the blocker held zmigrate up, which finished only once it let go.
    expect(whileHeld.inserts).toBeGreaterThan(0);
    expect(whileHeld.endedBeforeRelease).toBe(false);
  });

  test('rollback waits it out too', async () => {
    // Expand again on a fresh migration to have something to roll back.
    writeFileSync(
      path.join(dir, '0003_more.ts'),
      migrationSource(["op.addColumn('accounts', 'extra', { type: 'integer', nullable: true })"]),
    );
    expect((await cli('expand')).code).toBe(0);
    const { result, stats, whileHeld } = await runBlocked('rollback', 30_000);
    expect(outcome(result)).toEqual({ code: 0, errors: [] });
    expect(result.stdout).toContain('rolled back 0003_more');
    expect(stats.failures).toEqual([]);
    expect(whileHeld.inserts).toBeGreaterThan(0);
    expect(whileHeld.endedBeforeRelease).toBe(false);
  });

  test('a blocker that never ends: zmigrate gives up naming it, and a rerun later succeeds', async () => {
    const blocker = await holdLock();
    const result = await cli('expand', '--lock-retries', '2');
    expect(result.code).toBe(1);
    const line = result.stderr.split('\n').find((l) => l.startsWith('error:'))!;
    expect(line).toMatch(/did not get its lock within the lock timeout after 2 retries; blocked by/);
    expect(line).toMatch(
      engine === 'postgres'
        ? /pid \d+ \(user \w+.*idle in transaction in a transaction open for/
        : /connection \d+ \(user \w+.*in a transaction open for/,
    );
    if (engine === 'postgres') expect(line).toContain('SELECT * FROM accounts');
    const status = JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<{ name: string; phase: string }> };
    expect(status.migrations.find((m) => m.name === '0003_more')?.phase).toBe('expanding');
    await blocker.release();
    const rerun = await cli('expand');
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain('(resuming)');
  });

  test('a change to the catalog alone (renaming the table) gives up after the lock timeout to the millisecond, on each try', async () => {
    expect((await cli('contract')).code).toBe(0);
    writeFileSync(path.join(dir, '0004_rename.ts'), migrationSource(["op.renameTable('accounts', 'members')"]));
    expect((await cli('expand')).code).toBe(0);
    const blocker = await holdLock();
    let waiting: string | undefined;
    let run: ReturnType<typeof startCli>;
    try {
      run = startCli(['contract', '--dir', dir, '--lock-timeout', '300', '--lock-retries', '100'], { ZMIGRATE_DATABASE_URL: db.url });
      // The rename gave up once; its next try, as the server shows it while it waits for its lock.
      await run.waitForStderr(/lock not granted in time for "rename table accounts to members"; retry 1\//);
      waiting = await waitingStatement({ postgres: 'ALTER TABLE%RENAME TO%', mysql: '%RENAME TABLE%' });
    } finally {
      await blocker.release();
    }
    const result = await run.done;
    expect(result.code).toBe(0);
    // MariaDB bounds the statement's whole run by the 300 ms, where lock_wait_timeout would round up to 1 s;
    // PostgreSQL's lock_timeout is exact already.
    if (engine === 'postgres') expect(waiting).toMatch(/^ALTER TABLE .*accounts.* RENAME TO .*members/);
    else expect(waiting).toMatch(/^SET STATEMENT max_statement_time = 0\.3 FOR RENAME TABLE `[^`]+`\.`members` TO /);
  });

  test('an added column is bounded so too where the server can add it instantly, and added as written where it cannot', async () => {
    // The table is `members` since the last test.
    writeFileSync(
      path.join(dir, '0005_nick.ts'),
      migrationSource(["op.addColumn('members', 'nick', { type: 'varchar(20)', nullable: true })"]),
    );
    const trx = await db.knex.transaction();
    let waiting: string | undefined;
    let run: ReturnType<typeof startCli>;
    try {
      await trx.raw('SELECT * FROM members');
      run = startCli(['expand', '--dir', dir, '--lock-timeout', '300', '--lock-retries', '100'], { ZMIGRATE_DATABASE_URL: db.url });
      await run.waitForStderr(/lock not granted in time for "add column members\.nick"; retry 1\//);
      waiting = await waitingStatement({ postgres: 'ALTER TABLE%ADD COLUMN%', mysql: '%ALTER TABLE%ADD COLUMN%' });
    } finally {
      await trx.commit();
    }
    expect((await run.done).code).toBe(0);
    if (engine === 'postgres') expect(waiting).toMatch(/^ALTER TABLE .*members.* ADD COLUMN .*nick/);
    else
      expect(waiting).toMatch(
        /^SET STATEMENT max_statement_time = 0\.3 FOR ALTER TABLE `[^`]+`\.`members` ADD COLUMN `nick` .*ALGORITHM=INSTANT$/,
      );

    // A table the server cannot add a column to instantly (on MariaDB, a compressed one: it rebuilds it in place).
    await db.knex.raw(
      engine === 'postgres'
        ? 'CREATE TABLE notes (id integer PRIMARY KEY, body text)'
        : 'CREATE TABLE notes (id integer PRIMARY KEY, body text) ENGINE = InnoDB ROW_FORMAT = COMPRESSED',
    );
    await db.knex('notes').insert([{ id: 1, body: 'one' }]);
    writeFileSync(
      path.join(dir, '0006_notes.ts'),
      migrationSource(["op.addColumn('notes', 'score', { type: 'integer', nullable: true })"]),
    );
    const added = await cli('expand');
    expect({ code: added.code, stderr: added.code === 0 ? '' : added.stderr }).toEqual({ code: 0, stderr: '' });
    expect(rowsOf(await db.knex.raw('SELECT id, score FROM notes'))).toEqual([{ id: 1, score: null }]);
  });

  // PostgreSQL's lock_timeout bounds every lock wait to the millisecond already; MariaDB's lock_wait_timeout, in
  // whole seconds, would let this one wait a second while every write to the table queued behind it.
  if (engine === 'mysql')
    test('an index build, which no bound on its whole run fits, is stopped once it has waited the lock timeout for its lock', async () => {
      await db.knex.raw('CREATE TABLE tags (id integer PRIMARY KEY, name varchar(20))');
      await db.knex('tags').insert([{ id: 1, name: 'a' }]);
      writeFileSync(path.join(dir, '0007_tags_name.ts'), migrationSource(["op.createIndex('tags', ['name'])"]));
      const trx = await db.knex.transaction();
      let run: ReturnType<typeof startCli>;
      try {
        await trx.raw('SELECT * FROM tags');
        run = startCli(['expand', '--dir', dir, '--lock-timeout', '300', '--lock-retries', '100'], { ZMIGRATE_DATABASE_URL: db.url });
        await run.waitForStderr(
          /lock not granted in time for "create index tags_name_idx" \(stopped after \d+ ms waiting for its lock\); retry 1\//,
        );
      } finally {
        await trx.commit();
      }
      expect((await run.done).code).toBe(0);
      expect(rowsOf(await db.knex.raw("SHOW INDEX FROM tags WHERE Key_name = 'tags_name_idx'"))).toHaveLength(1);
    });

  /**
   * A backfill's batch (MariaDB: a chunk of the copy) that reaches a row an app's open transaction holds
   * waits for it, and every app writing one of the rows the batch locked before it waits for the batch. It
   * gives up after the lock timeout, which frees those rows, and is tried again with backoff, saying so,
   * until the app's transaction ends. MariaDB's innodb_lock_wait_timeout has whole seconds only: there a
   * second session stops the batch at the lock timeout.
   */
  /**
   * A backfill batch meets a row an app holds: it gives up after the lock timeout and is tried again. The batches run
   * on worker sessions of their own, which must start under the lock timeout however the URL is written.
   */
  async function batchMeetsHeldRow(table: string, migration: string, url: string): Promise<void> {
    await db.knex.raw(`CREATE TABLE ${table} (id integer PRIMARY KEY, v integer)`);
    await db.knex.raw(
      engine === 'postgres'
        ? `INSERT INTO ${table} SELECT g, g FROM generate_series(1, 40000) g`
        : `INSERT INTO ${table} SELECT seq, seq FROM seq_1_to_40000`,
    );
    writeFileSync(path.join(dir, migration), migrationSource([`op.alterColumn('${table}', 'v', { type: 'bigint', up: 'v', down: 'v' })`]));
    // Small, paced batches: the walk is still far from the held row when the app takes it.
    const run = startCli(['expand', '--dir', dir, '--lock-timeout', '300', '--batch-size', '500', '--batch-delay', '30'], {
      ZMIGRATE_DATABASE_URL: url,
    });
    await run.waitForStderr(new RegExp(`· (backfill|copy) ${table}`));
    const trx = await db.knex.transaction();
    try {
      await trx.raw(`UPDATE ${table} SET v = -1 WHERE id = 39000`);
      await run.waitForStderr(new RegExp(`lock not granted in time for a batch of ${table}.*; retry 2/`));
    } finally {
      await trx.commit();
    }
    const result = await run.done;
    expect(result.code).toBe(0);
    const retries = result.stderr.split('\n').filter((l) => l.includes(`lock not granted in time for a batch of ${table}`));
    expect(retries.length).toBeGreaterThanOrEqual(2);
    for (const line of retries)
      expect(line).toMatch(
        engine === 'postgres'
          ? new RegExp(`lock not granted in time for a batch of ${table}; retry \\d+/10 in \\d+ ms$`)
          : new RegExp(
              `lock not granted in time for a batch of ${table} \\(stopped after \\d+ ms, waiting for a row lock\\); retry \\d+/10 in \\d+ ms$`,
            ),
      );
    expect(rowsOf(await db.knex.raw(`SELECT v FROM ${table} WHERE id IN (1, 39000, 40000) ORDER BY id`))).toEqual([
      { v: 1 },
      { v: -1 },
      { v: 40000 },
    ]);
  }

  test('a backfill batch that meets a row an app holds gives up after the lock timeout and is tried again', async () => {
    await batchMeetsHeldRow('ledger', '0008_ledger.ts', db.url);
  });

  if (engine === 'postgres')
    // node-postgres lets the URL's `options` win over the config's, where zmigrate puts its lock timeout.
    test('so it does when the URL gives session options of its own', async () => {
      const url = new URL(db.url);
      url.searchParams.set('options', '-c application_name=billing');
      await batchMeetsHeldRow('journal', '0009_journal.ts', url.toString());
    });

  if (engine === 'postgres')
    test('a CREATE INDEX CONCURRENTLY of raw SQL that ran out of time waiting for older transactions is built again', async () => {
      await db.knex.raw('CREATE TABLE parcels (id integer PRIMARY KEY, weight integer)');
      await db.knex.raw('INSERT INTO parcels SELECT g, g FROM generate_series(1, 1000) g');
      await db.knex.raw('CREATE TABLE bystanders (id integer)');
      writeFileSync(
        path.join(dir, '0010_parcels_weight.ts'),
        migrationSource(["op.sql({ expand: 'CREATE INDEX CONCURRENTLY parcels_weight_idx ON parcels (weight)', rollback: '' })"]),
      );
      // A transaction of another app that holds a snapshot (REPEATABLE READ), on another table: the build waits for
      // it to end, and its wait is bounded by the lock timeout too.
      const trx = await db.knex.transaction();
      let run: ReturnType<typeof startCli>;
      try {
        await trx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await trx.raw('SELECT count(*) FROM bystanders');
        run = startCli(['expand', '--dir', dir, '--lock-timeout', '300', '--lock-retries', '100'], { ZMIGRATE_DATABASE_URL: db.url });
        await run.waitForStderr(/lock not granted in time for "raw SQL \(expand, outside a transaction\)"; retry 2\//);
      } finally {
        await trx.commit();
      }
      const result = await run.done;
      expect(outcome(result)).toEqual({ code: 0, errors: [] });
      expect(
        rowsOf(await db.knex.raw("SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'parcels_weight_idx'::regclass")),
      ).toEqual([{ valid: true }]);
    });

  if (engine === 'postgres')
    test('contract waits for the locks of all the tables it changes at once, never holding one while waiting for the next', async () => {
      expect((await cli('contract')).code).toBe(0);
      const tables = ['ledger_a', 'ledger_b', 'ledger_c'];
      for (const table of tables) {
        await db.knex.raw(`CREATE TABLE ${table} (id integer PRIMARY KEY, v integer)`);
        await db.knex(table).insert([{ id: 1, v: 1 }]);
      }
      writeFileSync(
        path.join(dir, '0011_doubled.ts'),
        migrationSource(tables.map((t) => `op.addColumn('${t}', 'doubled', { type: 'integer', nullable: true, up: 'v * 2' })`)),
      );
      expect((await cli('expand')).code).toBe(0);
      // Two apps' transactions that read the last two tables: statements locking one table after another would
      // hold ledger_a while waiting for ledger_b, then both while waiting for ledger_c (a lock timeout each).
      const readers = [await db.knex.transaction(), await db.knex.transaction()];
      let waiting: string | undefined;
      let run: ReturnType<typeof startCli>;
      try {
        await readers[0].raw('SELECT * FROM ledger_b');
        await readers[1].raw('SELECT * FROM ledger_c');
        run = startCli(['contract', '--dir', dir, '--lock-timeout', '300', '--lock-retries', '100'], { ZMIGRATE_DATABASE_URL: db.url });
        // One statement waits for all three, its whole wait bounded by the lock timeout.
        await run.waitForStderr(
          /lock not granted in time for "swap to the final shape .*" \(stopped after \d+ ms waiting for its lock\); retry 1\//,
        );
        waiting = await waitingStatement({ postgres: 'LOCK TABLE%', mysql: '' });
      } finally {
        for (const reader of readers) await reader.commit();
      }
      expect(outcome(await run.done)).toEqual({ code: 0, errors: [] });
      expect(waiting).toMatch(/^LOCK TABLE "[^"]+"\."ledger_a", "[^"]+"\."ledger_b", "[^"]+"\."ledger_c" IN ACCESS EXCLUSIVE MODE$/);
      expect(
        rowsOf(
          await db.knex.raw(
            "SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid::regclass::text LIKE 'ledger\\__' AND NOT tgisinternal",
          ),
        ),
      ).toEqual([{ n: 0 }]);
      await db.knex('ledger_a').insert({ id: 2, v: 2, doubled: 4 });
    });

  test('while a rerun resumes a failed expand, status shows it under way, not the earlier failure', async () => {
    await db.knex.raw('CREATE TABLE tickets (id integer PRIMARY KEY)');
    writeFileSync(
      path.join(dir, '0012_tickets.ts'),
      migrationSource(["op.addColumn('tickets', 'seat', { type: 'integer', nullable: true })"]),
    );
    type Status = { migrations: Array<{ name: string; phase: string; error: string | null }> };
    const tickets = async () =>
      (JSON.parse((await cli('status', '--json')).stdout) as Status).migrations.find((m) => m.name === '0012_tickets');
    const trx = await db.knex.transaction();
    let run: ReturnType<typeof startCli>;
    let during: Awaited<ReturnType<typeof tickets>>;
    try {
      await trx.raw('SELECT * FROM tickets');
      const failed = await cli('expand', '--lock-retries', '0');
      expect(failed.code).toBe(1);
      expect(await tickets()).toMatchObject({ phase: 'expanding', error: expect.stringMatching(/did not get its lock/) });
      // The rerun is held by the same transaction, and retries.
      run = startCli(['expand', '--dir', dir, '--lock-timeout', lockTimeout, '--lock-retries', '100'], { ZMIGRATE_DATABASE_URL: db.url });
      await run.waitForStderr(/lock not granted in time for "add column tickets\.seat.*; retry 1\//);
      during = await tickets();
    } finally {
      await trx.commit();
    }
    expect(during).toMatchObject({ phase: 'expanding', error: null });
    expect(outcome(await run.done)).toEqual({ code: 0, errors: [] });
    expect(await tickets()).toMatchObject({ phase: 'expanded', error: null });
  });
});
