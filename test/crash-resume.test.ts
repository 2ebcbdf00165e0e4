/**
 * Guarantee 4: a run killed at any point (kill -9) can be run again and
 * finishes correctly. Real `zmigrate` processes killed with SIGKILL in the
 * middle of expand, contract and rollback, on PostgreSQL (transactional DDL)
 * and MariaDB (DDL not transactional: each step is recorded and guarded).
 */
import { SERVER_ENGINES, createTestDatabase, type TestDatabase } from './support/databases';
import { migrationSource, migrationsDir, runCli } from './support/cli';
import { inspect } from './support/inspect';
import { kill9, parseStatus, sleepSql, startCli } from './support/process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const ACCOUNTS = migrationSource([
  "op.createTable('accounts', { columns: { id: { type: 'bigint', primaryKey: true }, name: { type: 'varchar(100)', nullable: false } } })",
]);

/** The whole visible shape of the database, to compare runs. */
async function shape(db: TestDatabase) {
  const s = await inspect(db);
  return {
    tables: s.tables,
    versionSchemas: s.versionSchemas,
    triggers: s.triggers,
    columns: Object.fromEntries(s.tables.map((t) => [t, s.columns(t)])),
    visibleColumns: Object.fromEntries(s.tables.map((t) => [t, s.visibleColumns(t)])),
    indexes: Object.fromEntries(s.tables.map((t) => [t, [...s.indexes(t)].sort()])),
    views: Object.fromEntries(s.versionSchemas.map((v) => [v, s.views(v)])),
  };
}

async function rows(db: TestDatabase, sql: string): Promise<Array<Record<string, unknown>>> {
  const result = await db.knex.raw(sql);
  return db.engine === 'mysql'
    ? (result as [Array<Record<string, unknown>>])[0]
    : (result as { rows: Array<Record<string, unknown>> }).rows;
}

/** PostgreSQL: a concurrent index build that was cut short leaves an invalid index behind. */
async function invalidIndexes(db: TestDatabase): Promise<string[]> {
  if (db.engine === 'mysql') return [];
  return (await rows(db, 'select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid where not i.indisvalid')).map(
    (r) => String(r.name),
  );
}

describe.each(SERVER_ENGINES)('kill -9 half-way on %s', (engine) => {
  let db: TestDatabase;
  let dir: string;
  const pk = engine === 'mysql' ? 'PRIMARY' : null;
  const pkName = (table: string) => pk ?? `${table}_pkey`;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    const slow = JSON.stringify(sleepSql(engine, 1.5));
    dir = migrationsDir({
      '0001_accounts.ts': ACCOUNTS,
      '0002_invoices.ts': migrationSource([
        "op.createTable('invoices', { columns: { id: { type: 'bigint', primaryKey: true }, account_id: { type: 'bigint' }, total: { type: 'integer', nullable: false, default: '0' } } })",
        "op.addColumn('accounts', 'email', { type: 'varchar(200)', nullable: true })",
        `op.sql({ expand: ${slow}, contract: ${slow} })`,
        "op.createIndex('invoices', ['account_id'])",
        "op.createTable('payments', { columns: { id: { type: 'bigint', primaryKey: true }, invoice_id: { type: 'bigint' } } })",
      ]),
    });
  });
  afterAll(async () => {
    await db.drop();
  });

  const env = () => ({ ZMIGRATE_DATABASE_URL: db.url });
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: env() });
  const phases = async () => Object.fromEntries([...parseStatus(await cli('status', '--json')).values()].map((m) => [m.name, m.phase]));

  test('expand killed during a slow step: status says expanding, a rerun finishes it and the schema is complete', async () => {
    const run = startCli(['expand', '--dir', dir], env());
    await run.waitForStderr(/· raw SQL \(expand\)/);
    const killed = await kill9(run);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).not.toContain('expanded');

    expect(await phases()).toEqual({ '0001_accounts': 'expanded', '0002_invoices': 'expanding' });
    // Half-way: the steps before the slow one took effect, the ones after did not.
    const half = await shape(db);
    expect(half.tables).toEqual(['accounts', 'invoices']);
    expect(half.columns.accounts).toEqual(['id', 'name', 'email']);
    // Contract is refused while expand is unfinished.
    const contract = await cli('contract');
    expect(contract.code).toBe(2);
    expect(contract.stderr).toMatch(/^error: 0002_invoices is expanding; run zmigrate expand to finish it first/m);

    const rerun = await cli('expand');
    expect(rerun.stderr).not.toMatch(/error/i);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('expanded 0002_invoices');
    expect(rerun.stderr).toContain('expand 0002_invoices (resuming)');
    // Completed steps are not run again.
    expect(rerun.stderr).not.toContain('create table invoices');
    expect(rerun.stderr).not.toContain('add column accounts.email');
    expect(rerun.stderr).toContain('create table payments');

    expect(await phases()).toEqual({ '0001_accounts': 'expanded', '0002_invoices': 'expanded' });
    const status = parseStatus(await cli('status', '--json'));
    expect(status.get('0002_invoices')?.versionSchema).toBe(`${db.base}_0002_invoices`);

    const state = await shape(db);
    expect(state.tables).toEqual(['accounts', 'invoices', 'payments']);
    expect(state.columns).toEqual({
      accounts: ['id', 'name', 'email'],
      invoices: ['id', 'account_id', 'total'],
      payments: ['id', 'invoice_id'],
    });
    // The old app does not see the new column on MariaDB (INVISIBLE until contract).
    expect(state.visibleColumns.accounts).toEqual(engine === 'mysql' ? ['id', 'name'] : ['id', 'name', 'email']);
    expect(state.indexes).toEqual({
      accounts: [pkName('accounts')],
      invoices: ['invoices_account_id_idx', pkName('invoices')].sort(),
      payments: [pkName('payments')],
    });
    expect(await invalidIndexes(db)).toEqual([]);
    expect(state.versionSchemas).toEqual([`${db.base}_0001_accounts`, `${db.base}_0002_invoices`]);
    expect(state.views).toEqual({
      [`${db.base}_0001_accounts`]: ['accounts'],
      [`${db.base}_0002_invoices`]: ['accounts', 'invoices', 'payments'],
    });

    // The version schema works for the new app.
    const app = db.versionKnex(`${db.base}_0002_invoices`);
    await app('accounts').insert({ id: 1, name: 'Ada', email: 'ada@example.com' });
    await app('invoices').insert({ id: 10, account_id: 1, total: 5 });
    expect(await app('accounts').select('id', 'name', 'email')).toEqual([
      { id: engine === 'mysql' ? 1 : '1', name: 'Ada', email: 'ada@example.com' },
    ]);
    // And the old app's version does not see the new column.
    const old = db.versionKnex(`${db.base}_0001_accounts`);
    expect(Object.keys((await old('accounts').select('*'))[0])).toEqual(['id', 'name']);
  });

  test('contract killed during a slow step: status says contracting, expand and rollback refuse, a rerun completes it', async () => {
    const run = startCli(['contract', '--dir', dir], env());
    await run.waitForStderr(/· raw SQL \(contract\)/);
    expect((await kill9(run)).signal).toBe('SIGKILL');

    expect(await phases()).toEqual({ '0001_accounts': 'complete', '0002_invoices': 'contracting' });
    const expand = await cli('expand');
    expect(expand.code).toBe(2);
    expect(expand.stderr).toMatch(/^error: 0002_invoices is half-way through contract; run zmigrate contract to finish it/m);
    const rollback = await cli('rollback');
    expect(rollback.code).toBe(2);
    expect(rollback.stderr).toMatch(/^error: 0002_invoices is half-way through contract and cannot be rolled back/m);

    const rerun = await cli('contract');
    expect(rerun.stderr).not.toMatch(/error/i);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('contracted 0002_invoices');
    expect(rerun.stderr).toContain('contract 0002_invoices (resuming)');
    expect(await phases()).toEqual({ '0001_accounts': 'complete', '0002_invoices': 'complete' });

    const state = await shape(db);
    expect(state.tables).toEqual(['accounts', 'invoices', 'payments']);
    expect(state.visibleColumns.accounts).toEqual(['id', 'name', 'email']);
    expect(state.versionSchemas).toEqual([`${db.base}_0002_invoices`]);
    expect(state.views[`${db.base}_0002_invoices`]).toEqual(['accounts', 'invoices', 'payments']);
    // Rows written during expand are still there, and the base table now has the final shape.
    expect(await rows(db, 'SELECT * FROM accounts')).toEqual([{ id: engine === 'mysql' ? 1 : '1', name: 'Ada', email: 'ada@example.com' }]);
  });

  test('rollback killed during a slow step: status says rolling back, expand refuses, a rerun leaves no trace', async () => {
    writeFileSync(
      path.join(dir, '0003_refunds.ts'),
      migrationSource([
        "op.addColumn('invoices', 'paid', { type: 'boolean', nullable: true })",
        "op.createTable('refunds', { columns: { id: { type: 'bigint', primaryKey: true }, payment_id: { type: 'bigint' } } })",
        `op.sql({ expand: 'SELECT 1', rollback: ${JSON.stringify(sleepSql(engine, 1.5))} })`,
        "op.createIndex('refunds', ['payment_id'])",
      ]),
    );
    const before = await shape(db);
    expect((await cli('expand')).code).toBe(0);
    expect((await shape(db)).tables).toContain('refunds');

    const run = startCli(['rollback', '--dir', dir], env());
    await run.waitForStderr(/· raw SQL \(rollback\)/);
    expect((await kill9(run)).signal).toBe('SIGKILL');

    expect((await phases())['0003_refunds']).toBe('rolling back');
    const expand = await cli('expand');
    expect(expand.code).toBe(2);
    expect(expand.stderr).toMatch(/^error: 0003_refunds is half-way through rollback; run zmigrate rollback to finish it/m);

    const rerun = await cli('rollback');
    expect(rerun.stderr).not.toMatch(/error/i);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('rolled back 0003_refunds');
    expect(rerun.stderr).toContain('rollback 0003_refunds (resuming)');
    expect((await phases())['0003_refunds']).toBe('rolled back');
    expect(await shape(db)).toEqual(before);
    expect(await invalidIndexes(db)).toEqual([]);

    // And it can be expanded again afterwards.
    const again = await cli('expand');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('expanded 0003_refunds');
  });
});

describe.each(SERVER_ENGINES)('kill -9 at each step of expand on %s', (engine) => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({
      '0001_accounts.ts': ACCOUNTS,
      '0002_mixed.ts': migrationSource([
        "op.createTable('invoices', { columns: { id: { type: 'bigint', primaryKey: true }, account_id: { type: 'bigint' } } })",
        "op.addColumn('accounts', 'email', { type: 'varchar(200)', nullable: true })",
        // Raw SQL that is safe to repeat, as raw SQL on an engine without transactional DDL must be.
        "op.sql({ expand: 'CREATE TABLE IF NOT EXISTS audit (id integer)', rollback: 'DROP TABLE IF EXISTS audit' })",
        "op.createIndex('invoices', ['account_id'])",
        "op.createTable('payments', { columns: { id: { type: 'bigint', primaryKey: true }, invoice_id: { type: 'bigint' } } })",
      ]),
    });
  });
  afterAll(async () => {
    await db.drop();
  });

  const env = () => ({ ZMIGRATE_DATABASE_URL: db.url });
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: env() });
  let reference: Awaited<ReturnType<typeof shape>>;

  test('wherever the kill lands, a rerun ends in exactly the schema of an uninterrupted run', async () => {
    // A first expand and rollback, so the runs below expand 0002_mixed alone.
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('rollback')).code).toBe(0);
    const clean = await cli('expand');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('expanded 0002_mixed;');
    reference = await shape(db);
    expect(reference.tables).toEqual(['accounts', 'audit', 'invoices', 'payments']);
    expect(reference.views[`${db.base}_0002_mixed`]).toEqual(['accounts', 'audit', 'invoices', 'payments']);
    const stepLines = clean.stderr.split('\n').filter((l) => l.startsWith('  · '));
    expect(stepLines.length).toBeGreaterThanOrEqual(8);
    expect((await cli('rollback')).code).toBe(0);
    const rolledBack = await shape(db);

    // Kill once inside each kind of step: just after the step line is printed for create table (1),
    // add column (2), raw SQL (3), create index (4), the version schema (6) and a view (7).
    expect(stepLines.slice(0, 7).map((l) => l.trim().split(' ').slice(1, 3).join(' '))).toEqual([
      'create table',
      'add column',
      'raw SQL',
      'create index',
      'create table',
      'create version',
      expect.stringMatching(/^view /),
    ]);
    for (const killAt of [1, 2, 3, 4, 6, 7]) {
      const run = startCli(['expand', '--dir', dir], env());
      const line = stepLines[killAt - 1];
      await run.waitForStderr(new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
      const killed = await kill9(run);
      expect([killAt, killed.signal]).toEqual([killAt, 'SIGKILL']);

      const rerun = await cli('expand');
      expect([killAt, rerun.code, rerun.stderr.includes('error')]).toEqual([killAt, 0, false]);
      expect(rerun.stdout).toContain('expanded 0002_mixed');
      expect(rerun.stderr).toContain('expand 0002_mixed (resuming)');
      expect([killAt, await shape(db)]).toEqual([killAt, reference]);
      expect([killAt, await invalidIndexes(db)]).toEqual([killAt, []]);

      const rollback = await cli('rollback');
      expect([killAt, rollback.code]).toEqual([killAt, 0]);
      expect([killAt, await shape(db)]).toEqual([killAt, rolledBack]);
    }
  });

  test('killed while its DDL is in flight: what the server finished after the client died is not run again', async () => {
    expect((await shape(db)).columns.accounts).toEqual(['id', 'name']);
    // MariaDB shows it bounded (SET STATEMENT max_statement_time = … FOR ALTER TABLE …); the pattern then matches the
    // queries that look for it too, hence their own session left out.
    const addColumn = '%ALTER TABLE %ADD COLUMN %email%';
    const waiting = async () =>
      (
        await rows(
          db,
          engine === 'mysql'
            ? `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE '${addColumn}' AND STATE LIKE 'Waiting for table metadata lock' AND ID <> CONNECTION_ID()`
            : `select pid as id from pg_stat_activity where query like '${addColumn}' and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        )
      ).length;
    const running = async () =>
      (
        await rows(
          db,
          engine === 'mysql'
            ? `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE '${addColumn}' AND ID <> CONNECTION_ID()`
            : `select pid as id from pg_stat_activity where query like '${addColumn}' and state = 'active' and pid <> pg_backend_pid()`,
        )
      ).length;
    const until = async (what: string, condition: () => Promise<boolean>) => {
      const deadline = Date.now() + 10_000;
      while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    // An application transaction that read accounts holds a lock the ALTER must wait for.
    const app = await db.knex.transaction();
    let committed = false;
    try {
      await app.raw('SELECT * FROM accounts');
      // A lock timeout long enough that the ALTER is still waiting, not yet given up, when its client dies.
      const run = startCli(['expand', '--dir', dir, '--lock-timeout', '5000'], env());
      await run.waitForStderr(/^  · add column accounts\.email$/);
      await until('the ALTER to wait for its lock', async () => (await waiting()) > 0);
      // The client dies while the server still holds its ALTER; then the lock is let go.
      expect((await kill9(run)).signal).toBe('SIGKILL');
      await app.commit();
      committed = true;
    } finally {
      if (!committed) await app.rollback();
    }
    await until('the orphaned ALTER to end', async () => (await running()) === 0);

    // MariaDB: the ALTER ran to its end with nobody to record it (DDL is not transactional), so
    // the step is recorded as running but took effect. PostgreSQL: it ran inside the step's
    // transaction, which the server rolled back when the client went away.
    expect((await shape(db)).columns.accounts).toEqual(engine === 'mysql' ? ['id', 'name', 'email'] : ['id', 'name']);

    const rerun = await cli('expand');
    expect(rerun.stderr).not.toMatch(/error/i);
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain('expand 0002_mixed (resuming)');
    expect(await shape(db)).toEqual(reference);
  });
});

/**
 * A deploy system's SIGTERM, or Ctrl-C: the run stops where it resumes from (the backfill batches in flight
 * commit with their checkpoint, a step under way ends), says where in one line and exits 128 + the signal's
 * number; a second signal ends it at once.
 */
describe.each(SERVER_ENGINES)('SIGTERM and SIGINT on %s', (engine) => {
  const ROWS = 20_000;
  let db: TestDatabase;
  let dir: string;
  const pg = engine === 'postgres';
  const env = () => ({ ZMIGRATE_DATABASE_URL: db.url });
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: env() });
  const status = async () =>
    (JSON.parse((await cli('status', '--json')).stdout) as { migrations: Array<Record<string, unknown>> }).migrations;

  beforeEach(async () => {
    db = await createTestDatabase(engine);
  });
  afterEach(async () => {
    await db.drop();
  });

  /** The backfill's checkpoint as the state holds it, and its step's status. */
  async function checkpoint(): Promise<{ rows: number; last: unknown[] | null; status: string } | undefined> {
    const [row] = await rows(
      db,
      pg
        ? "SELECT to_regclass('zmigrate.steps') IS NOT NULL AS made"
        : "SELECT COUNT(*) AS made FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'zmigrate_steps'",
    );
    if (!Number(row.made) && row.made !== true) return undefined;
    const [step] = await rows(
      db,
      `SELECT status, checkpoint FROM ${pg ? 'zmigrate.steps' : 'zmigrate_steps'} WHERE checkpoint IS NOT NULL`,
    );
    return step
      ? { ...(JSON.parse(String(step.checkpoint)) as { rows: number; last: unknown[] | null }), status: String(step.status) }
      : undefined;
  }

  /** Waits until the backfill's checkpoint is past `rows` (the signal then lands part-way), however slow the machine. */
  async function pastCheckpoint(rows: number): Promise<void> {
    for (const deadline = Date.now() + 30_000; ((await checkpoint())?.rows ?? 0) <= rows;) {
      if (Date.now() > deadline) throw new Error(`the backfill's checkpoint did not pass ${rows} rows`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test('mid-backfill: the batches in flight commit, the checkpoint is recorded, one line says where, exit 143 (SIGTERM) and 130 (SIGINT); reruns finish with the right data', async () => {
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, amount integer NOT NULL)');
    await db.knex.raw(
      pg
        ? `INSERT INTO orders SELECT g, g % 1000 FROM generate_series(1, ${ROWS}) g`
        : `INSERT INTO orders SELECT seq, seq % 1000 FROM seq_1_to_${ROWS}`,
    );
    dir = migrationsDir({
      '0001_amount.ts': migrationSource(["op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount * 2', down: 'amount / 2' })"]),
    });
    const slowly = ['--batch-size', '500', '--batch-delay', '100', '--jobs', '2'];

    const expand = startCli(['expand', '--dir', dir, ...slowly], env());
    await pastCheckpoint(0);
    expand.child.kill('SIGTERM');
    const stopped = await expand.done;
    expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: 143, signal: null });
    expect(stopped.stdout).toBe('');
    const line = /^interrupted: 0001_amount stopped after (\d+) rows; run zmigrate expand to resume$/m.exec(stopped.stderr);
    expect(line).not.toBeNull();
    expect(stopped.stderr.trim().split('\n').at(-1)).toBe(line![0]);
    const rowsDone = Number(line![1]);
    expect(rowsDone).toBeGreaterThan(0);
    expect(rowsDone).toBeLessThan(ROWS);
    // The state records where it stopped: the checkpoint of the rows it said, and the phase under way.
    expect(await checkpoint()).toMatchObject({ rows: rowsDone, status: 'running' });
    expect(await status()).toEqual([
      expect.objectContaining({
        phase: 'expanding',
        backfilledRows: rowsDone,
        error: `interrupted: 0001_amount stopped after ${rowsDone} rows`,
      }),
    ]);

    // `zmigrate backfill` resumes it, and is stopped by Ctrl-C further on.
    const backfill = startCli(['backfill', '--dir', dir, ...slowly], env());
    await backfill.waitForStderr(/expand 0001_amount \(resuming\)/);
    await pastCheckpoint(rowsDone);
    backfill.child.kill('SIGINT');
    const interrupted = await backfill.done;
    expect({ code: interrupted.code, signal: interrupted.signal }).toEqual({ code: 130, signal: null });
    expect(interrupted.stderr).toMatch(/^ {2}! SIGINT: stopping once the work in flight is done/m);
    const again = /^interrupted: 0001_amount stopped after (\d+) rows; run zmigrate backfill to resume$/m.exec(interrupted.stderr);
    expect(again).not.toBeNull();
    expect(Number(again![1])).toBeGreaterThan(rowsDone);
    expect((await checkpoint())?.rows).toBe(Number(again![1]));

    const rerun = await cli('backfill');
    expect({ code: rerun.code, stdout: rerun.stdout }).toEqual({ code: 0, stdout: '0001_amount: backfilled and verified\n' });
    expect(await status()).toEqual([expect.objectContaining({ phase: 'expanded', backfilledRows: ROWS, error: null })]);
    const [tally] = await rows(
      db,
      `SELECT COUNT(*) AS n, SUM(CASE WHEN ${pg ? '"_zm_amount"' : '`_zm_amount`'} = amount * 2 THEN 0 ELSE 1 END) AS wrong FROM orders`,
    );
    expect([Number(tally.n), Number(tally.wrong)]).toEqual([ROWS, 0]);
  });

  /** A step that waits at a gate, a lock the test holds: it ends when the test opens the gate, not before. */
  const gateName = () => `zmigrate_test_gate_${db.base}`;
  const gatedSql = () =>
    pg
      ? `SET LOCAL lock_timeout = 0; SELECT pg_advisory_lock(hashtext('${gateName()}')); SELECT pg_advisory_unlock(hashtext('${gateName()}'))`
      : `SELECT GET_LOCK('${gateName()}', 120); SELECT RELEASE_LOCK('${gateName()}')`;
  const closeGate = async (): Promise<{ open(): Promise<void> }> => {
    const trx = await db.knex.transaction();
    await trx.raw(pg ? 'SELECT pg_advisory_lock(hashtext(?))' : 'SELECT GET_LOCK(?, 0)', [gateName()]);
    return {
      async open() {
        await trx.raw(pg ? 'SELECT pg_advisory_unlock(hashtext(?))' : 'SELECT RELEASE_LOCK(?)', [gateName()]);
        await trx.commit();
      },
    };
  };

  /**
   * Runs expand with the gate closed; once it is in the gated step, sends `signal`, waits for zmigrate to say it
   * stops, runs `meanwhile` (the gate still closed), then opens the gate: what the run ended with.
   */
  const signalledAtGate = async (
    signal: 'SIGINT' | 'SIGTERM',
    meanwhile: (run: ReturnType<typeof startCli>) => Promise<unknown> = async () => undefined,
  ) => {
    const gate = await closeGate();
    const run = startCli(['expand', '--dir', dir], env());
    try {
      await run.waitForStderr(/· raw SQL \(expand\)/);
      run.child.kill(signal);
      await run.waitForStderr(new RegExp(`! ${signal}: stopping`));
      await meanwhile(run);
    } finally {
      await gate.open();
    }
    return run.done;
  };

  test('while a step waits out its lock retries: the run stops before the step, without waiting for the lock', async () => {
    await db.knex.raw('CREATE TABLE orders (id integer PRIMARY KEY, amount integer NOT NULL)');
    dir = migrationsDir({
      '0001_note.ts': migrationSource(["op.addColumn('orders', 'note', { type: 'varchar(40)', nullable: true })"]),
    });
    // An app's open transaction that read the table: the ALTER waits for it, and times out each try.
    const app = await db.knex.transaction();
    try {
      await app.raw('SELECT COUNT(*) FROM orders');
      const run = startCli(['expand', '--dir', dir, '--lock-timeout', '200', '--lock-retries', '1000'], env());
      await run.waitForStderr(/retry 2\/1000/);
      run.child.kill('SIGTERM');
      const stopped = await run.done;
      // The app's transaction still holds the table: only the signal ended the retries.
      expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: 143, signal: null });
      expect(stopped.stderr.trim().split('\n').at(-1)).toMatch(/^interrupted: 0001_note stopped before .*; run zmigrate expand to resume$/);
    } finally {
      await app.commit();
    }
    expect((await inspect(db)).columns('orders')).toEqual(['id', 'amount']);
    expect((await cli('expand')).code).toBe(0);
    expect((await inspect(db)).columns('orders')).toEqual(['id', 'amount', 'note']);
  });

  test('during a step: the step ends, the run stops before the next; the same signal passed on again (npx) is the same stop; a second one later exits at once; reruns finish', async () => {
    dir = migrationsDir({
      '0001_slow.ts': migrationSource([
        "op.createTable('first', { columns: { id: { type: 'bigint', primaryKey: true } } })",
        `op.sql({ expand: ${JSON.stringify(gatedSql())} })`,
        "op.createTable('second', { columns: { id: { type: 'bigint', primaryKey: true } } })",
      ]),
    });
    const interrupted = 'interrupted: 0001_slow stopped before create table second; run zmigrate expand to resume';

    const stopped = await signalledAtGate('SIGTERM');
    expect({ code: stopped.code, signal: stopped.signal }).toEqual({ code: 143, signal: null });
    expect(stopped.stderr.trim().split('\n').at(-1)).toBe(interrupted);
    // The step ran to its end and is recorded; nothing after it ran.
    expect((await inspect(db)).tables).toEqual(['first']);
    const resumed = await cli('expand');
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).not.toContain('raw SQL');
    expect((await inspect(db)).tables).toEqual(['first', 'second']);
    expect((await cli('rollback')).code).toBe(0);

    // Ctrl-C under npx or an npm script: the terminal's SIGINT, then npm's copy of it, a moment after zmigrate
    // took the first (two sent at once would reach the process as one).
    const graceful = await signalledAtGate('SIGINT', async (run) => {
      run.child.kill('SIGINT');
      // The gate is still closed: a process that took it for a second Ctrl-C would be gone now, with its line.
      await expect(run.waitForStderr(/exiting at once/, 300)).rejects.toThrow();
    });
    expect({ code: graceful.code, signal: graceful.signal }).toEqual({ code: 130, signal: null });
    expect(graceful.stderr.trim().split('\n').at(-1)).toBe(interrupted);
    expect(graceful.stderr).not.toContain('exiting at once');
    expect((await cli('expand')).code).toBe(0);
    expect((await cli('rollback')).code).toBe(0);

    // A second Ctrl-C, later: the process ends while the step still waits at the closed gate.
    const gone = await signalledAtGate('SIGINT', async (run) => {
      // Past the time within which a repeat counts as the same signal passed on.
      await new Promise((r) => setTimeout(r, 1500));
      run.child.kill('SIGINT');
      await run.done;
    });
    expect({ code: gone.code, signal: gone.signal }).toEqual({ code: 130, signal: null });
    expect(gone.stderr.trim().split('\n').at(-1)).toBe('  ! SIGINT again: exiting at once; run zmigrate expand to resume');
    expect((await status())[0]).toMatchObject({ phase: 'expanding' });

    const rerun = await cli('expand');
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain('expanded 0001_slow');
    expect((await inspect(db)).tables).toEqual(['first', 'second']);
  });
});
