/**
 * Issue 5, throttle: a backfill pauses while a replica lags more than
 * --max-lag and carries on once it has caught up. Each engine gets a real
 * primary + replica pair of its own (test/support/replicas.ts); lag is made
 * on purpose (PostgreSQL recovery_min_apply_delay, MariaDB MASTER_DELAY or a
 * stopped SQL thread) and removed again.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { unreplayedFor } from '../src/dialects/postgres/replication';
import { migrationSource, migrationsDir, runCli } from './support/cli';
import { rowsOf } from './support/apps';
import { startCli, type RunningCli } from './support/process';
import {
  freePort,
  PG_BIN,
  QUIET,
  silentProxy,
  startMariadbPair,
  startPostgresPair,
  type ServerPair,
  type SilentProxy,
} from './support/replicas';

const ROWS = 10_000;
/**
 * Small batches one at a time with a pause: unthrottled, the PostgreSQL
 * backfill takes at least 100 × 50 ms (the pauses alone, however fast the
 * machine), while the primary needs two lag reads a second apart to see a
 * standby stuck. (Two jobs, 25 ms apart, once finished in 1.3 s.)
 */
const SLOW_BATCHES = ['--batch-size', '100', '--batch-delay', '50', '--jobs', '1'];
/** On MariaDB the lag is there before the run starts, so the first batch already waits. */
const BATCHES = ['--batch-size', '500'];
/** A migration whose TypeScript backfill job fills items.doubled, the column its expand adds. */
const DOUBLING_JOB = `import { defineMigration, op } from 'zmigrate';

export default defineMigration({
  expand: async ({ ddl, quote }) => {
    await ddl(\`ALTER TABLE \${quote('items')} ADD COLUMN IF NOT EXISTS \${quote('doubled')} bigint\`);
  },
  backfill: op.backfill('items', {
    columns: ['amount'],
    where: 'doubled IS NULL',
    batch: async (rows, { knex }) => {
      await knex('items').whereIn('id', rows.map((r) => r.id as number)).update({ doubled: knex.raw('amount * 2') });
    },
  }),
  rollback: async ({ ddl, quote }) => {
    await ddl(\`ALTER TABLE \${quote('items')} DROP COLUMN IF EXISTS \${quote('doubled')}\`);
  },
});
`;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A replica may not have the database yet: not an error, not there yet.
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function count(knex: Knex, sql: string): Promise<number> {
  return Number(Object.values(rowsOf<Record<string, unknown>>(await knex.raw(sql))[0])[0]);
}

/**
 * Waits for the run to throttle, then for its "still throttled" line five
 * seconds on, and checks no batch ran in between and the run is still going.
 */
async function expectPaused(running: RunningCli, app: Knex, unfilled: string): Promise<void> {
  await running.waitForStderr(/throttling: replica /);
  const left = await count(app, unfilled);
  expect(left).toBeGreaterThan(0);
  await running.waitForStderr(/still throttled after/);
  expect(running.ended).toBe(false);
  expect(await count(app, unfilled)).toBe(left);
}

/**
 * Expands a migration that backfills `items` of database `quiet`, watching
 * the replica at `replicaUrl` (through `proxy`): silences the proxy once the
 * backfill runs, checks the run pauses for a read that did not answer
 * (`reading` is how it words that read) with rows still unfilled, lets the
 * proxy answer again, and returns the run, which must then finish.
 */
async function expandThroughSilence(pair: ServerPair, quiet: Knex, proxy: SilentProxy, replicaUrl: string, reading: string) {
  const dir = migrationsDir({
    '0001_doubled.ts': migrationSource(["op.addColumn('items', 'doubled', { type: 'bigint', nullable: true, up: 'amount * 2' })"]),
  });
  const running = startCli(['expand', '--dir', dir, '--replica-url', replicaUrl, '--max-lag', '1000', ...SLOW_BATCHES], {
    ZMIGRATE_DATABASE_URL: pair.primaryUrl('quiet'),
  });
  await running.waitForStderr(/backfill items/);
  proxy.silence();
  await running.waitForStderr(new RegExp(`throttling: replica 127\\.0\\.0\\.1:${proxy.port}: ${reading} \\(did not answer within 10 s\\)`));
  expect(await count(quiet, 'SELECT count(*) FROM items WHERE doubled IS NULL')).toBeGreaterThan(0);
  proxy.answer();
  const result = await running.done;
  expect(result.stderr).toMatch(/throttle lifted: replication lag \d+\.\d s/);
  expect(result.code).toBe(0);
  return result;
}

/** Waits until `zmigrate status` shows the one migration paused; returns its JSON entry and its line. */
async function statusOncePaused(
  dir: string,
  url: string,
): Promise<{ entry: { phase: string; throttled: { since: string; reason: string } }; line: string }> {
  const env = { ZMIGRATE_DATABASE_URL: url };
  let entry: { phase: string; throttled: { since: string; reason: string } | null } | undefined;
  await until('status shows the pause', async () => {
    [entry] = (
      JSON.parse((await runCli(['status', '--json', '--dir', dir], { env })).stdout) as { migrations: Array<typeof entry> }
    ).migrations;
    return Boolean(entry?.throttled);
  });
  const [line] = (await runCli(['status', '--dir', dir], { env })).stdout.split('\n');
  return { entry: entry as { phase: string; throttled: { since: string; reason: string } }, line };
}

/** What `zmigrate status` says of the one migration under way: its JSON entry's pause and its line. */
async function statusWhilePaused(dir: string, url: string): Promise<{ throttled: { since: string; reason: string } | null; line: string }> {
  const env = { ZMIGRATE_DATABASE_URL: url };
  const json = JSON.parse((await runCli(['status', '--json', '--dir', dir], { env })).stdout) as {
    migrations: Array<{ phase: string; throttled: { since: string; reason: string } | null }>;
  };
  const running = json.migrations.filter((m) => m.phase === 'expanding');
  expect(running).toHaveLength(1);
  const lines = (await runCli(['status', '--dir', dir], { env })).stdout.split('\n').filter((l) => / expanding /.test(l));
  return { throttled: running[0].throttled, line: lines[0] ?? '' };
}

describe("PostgreSQL: how long a standby had not replayed WAL, from the primary's samples of its WAL position", () => {
  // The primary's flushed WAL position at 10 s, 11 s and 12 s (its clock); the standby replayed up to 100.
  const samples = [
    { at: 10_000, lsn: 100n },
    { at: 11_000, lsn: 200n },
    { at: 12_000, lsn: 300n },
  ];

  test('since the oldest position it had not replayed, up to its report', () => {
    expect(unreplayedFor(samples, 100n, 11_500, 12_000)).toBe(500);
    expect(unreplayedFor(samples, 300n, 12_000, 12_000)).toBe(0);
    // No report time: as of the primary's now.
    expect(unreplayedFor(samples, 100n, undefined, 12_000)).toBe(1_000);
  });

  test("a report time ahead of the primary's clock (the standby's clock runs fast) counts as the primary's now", () => {
    expect(unreplayedFor(samples, 100n, 17_000, 12_000)).toBe(1_000);
  });
});

/** A database made on the primary, with connections to it there and to its copy on the standby. */
async function pairDatabase(pair: ServerPair, name: string): Promise<{ primary: Knex; standby: Knex }> {
  await pair.primary.raw(`CREATE DATABASE ${name}`);
  return {
    primary: knexFactory({ client: 'pg', connection: pair.primaryUrl(name), pool: { min: 0, max: 2 } }),
    standby: knexFactory({
      client: 'pg',
      connection: { host: '127.0.0.1', port: pair.replicaPort, user: 'postgres', database: name },
      pool: { min: 0, max: 2 },
      log: QUIET,
    }),
  };
}

describe('PostgreSQL: a primary with a streaming standby', () => {
  let pair: ServerPair | undefined;
  let app: Knex;
  let standby: Knex;

  beforeAll(async () => {
    pair = await startPostgresPair();
    ({ primary: app, standby } = await pairDatabase(pair, 'app'));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([app, standby].map((k) => k?.destroy()));
    await pair?.stop();
  });

  test('expand pauses its backfill while pg_stat_replication shows the standby behind, and finishes once it catches up', async () => {
    await app.raw('CREATE TABLE items (id bigint PRIMARY KEY, amount integer NOT NULL)');
    await app.raw('INSERT INTO items SELECT g, g % 1000 FROM generate_series(1, ?) g', [ROWS]);
    await until('the standby has the rows', async () => (await count(standby, 'SELECT count(*) FROM items')) === ROWS);
    // The standby stops applying commits: replay_lag keeps a stale value (or NULL) while replay_lsn stays behind.
    await pair!.replica.raw("ALTER SYSTEM SET recovery_min_apply_delay = '1h'");
    await pair!.replica.raw('SELECT pg_reload_conf()');

    const dir = migrationsDir({
      '0001_doubled.ts': migrationSource(["op.addColumn('items', 'doubled', { type: 'bigint', nullable: true, up: 'amount * 2' })"]),
    });
    const running = startCli(['expand', '--dir', dir, '--max-lag', '1000', ...SLOW_BATCHES], {
      ZMIGRATE_DATABASE_URL: pair!.primaryUrl('app'),
    });
    try {
      await expectPaused(running, app, 'SELECT count(*) FROM items WHERE doubled IS NULL');
      expect(running.stderr).toMatch(/replica walreceiver@127\.0\.0\.1 is behind and not catching up/);
      // status, from another process, shows the pause and why.
      const paused = await statusWhilePaused(dir, pair!.primaryUrl('app'));
      expect(paused.throttled?.reason).toMatch(/^replica walreceiver@127\.0\.0\.1 (lags \d+\.\d s > 1\.0 s|is behind and not catching up)/);
      expect(Date.now() - Date.parse(paused.throttled!.since)).toBeGreaterThanOrEqual(0);
      expect(paused.line).toMatch(/throttled since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: replica walreceiver/);
    } finally {
      await pair!.replica.raw('ALTER SYSTEM RESET recovery_min_apply_delay');
      await pair!.replica.raw('SELECT pg_reload_conf()');
    }
    const result = await running.done;
    expect(result.stderr).toMatch(/throttle lifted: replication lag \d+\.\d s; resuming after \d+\.\d s paused/);
    expect(result.code).toBe(0);
    expect(await count(app, 'SELECT count(*) FROM items WHERE doubled IS DISTINCT FROM amount * 2')).toBe(0);
    await until(
      'the standby has the backfilled rows',
      async () => (await count(standby, 'SELECT count(*) FROM items WHERE doubled = amount * 2')) === ROWS,
    );
  });

  test('a backfill job paused while the standby is behind: status shows the pause and why, and not once it is over', async () => {
    // A database of its own: zmigrate's state in `app` holds the other tests' migrations.
    const { primary: jobs, standby: jobsStandby } = await pairDatabase(pair!, 'jobs');
    try {
      await jobs.raw('CREATE TABLE items (id bigint PRIMARY KEY, amount integer NOT NULL)');
      await jobs.raw('INSERT INTO items SELECT g, g % 1000 FROM generate_series(1, ?) g', [ROWS]);
      await until('the standby has the rows', async () => (await count(jobsStandby, 'SELECT count(*) FROM items')) === ROWS);
      await pair!.replica.raw("ALTER SYSTEM SET recovery_min_apply_delay = '1h'");
      await pair!.replica.raw('SELECT pg_reload_conf()');
      const dir = migrationsDir({ '0001_doubled.ts': DOUBLING_JOB });
      const running = startCli(['expand', '--dir', dir, '--max-lag', '1000', ...SLOW_BATCHES], {
        ZMIGRATE_DATABASE_URL: pair!.primaryUrl('jobs'),
      });
      try {
        await running.waitForStderr(/throttling: replica walreceiver@127\.0\.0\.1/);
        const { entry, line } = await statusOncePaused(dir, pair!.primaryUrl('jobs'));
        expect(entry.phase).toBe('expanding');
        expect(entry.throttled.reason).toMatch(/^replica walreceiver@127\.0\.0\.1 (lags \d+\.\d s > 1\.0 s|is behind and not catching up)/);
        expect(line).toMatch(/^0001_doubled\s+expanding\s+.*throttled since \S+ \S+Z: replica walreceiver@127\.0\.0\.1/);
        expect(await count(jobs, 'SELECT count(*) FROM items WHERE doubled IS NULL')).toBeGreaterThan(0);
      } finally {
        await pair!.replica.raw('ALTER SYSTEM RESET recovery_min_apply_delay');
        await pair!.replica.raw('SELECT pg_reload_conf()');
      }
      const result = await running.done;
      expect(result.code).toBe(0);
      const status = JSON.parse(
        (await runCli(['status', '--json', '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('jobs') } })).stdout,
      ) as {
        migrations: Array<Record<string, unknown>>;
      };
      expect(status.migrations).toEqual([expect.objectContaining({ phase: 'expanded', throttled: null })]);
      expect(await count(jobs, 'SELECT count(*) FROM items WHERE doubled IS DISTINCT FROM amount * 2')).toBe(0);
    } finally {
      await Promise.all([jobs.destroy(), jobsStandby.destroy()]);
    }
  });

  test('a standby given by URL must be reachable and a standby: exit 2, one line, nothing changed', async () => {
    await pair!.primary.raw('CREATE DATABASE other');
    const other = knexFactory({ client: 'pg', connection: pair!.primaryUrl('other'), pool: { min: 0, max: 1 } });
    const dir = migrationsDir({
      '0001_t.ts': migrationSource(["op.createTable('t', { columns: { id: { type: 'bigint', primaryKey: true } } })"]),
    });
    const env = { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('other') };
    const port = await freePort();
    const gone = await runCli(['expand', '--dir', dir, '--replica-url', `postgres://watcher:Gone-Secret-7@127.0.0.1:${port}/app`], { env });
    expect(gone.code).toBe(2);
    expect(gone.stderr.trim().split('\n')).toHaveLength(1);
    expect(gone.stderr).toContain(`replica postgres://watcher:***@127.0.0.1:${port}/app cannot be reached`);
    expect(gone.stdout + gone.stderr).not.toContain('Gone-Secret-7');
    const primary = await runCli(['expand', '--dir', dir, '--replica-url', pair!.primaryUrl('app')], { env });
    expect(primary.code).toBe(2);
    expect(primary.stderr).toContain('is not a standby');
    expect(
      await count(other, "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"),
    ).toBe(0);
    await other.destroy();

    const ok = await runCli(['expand', '--dir', dir, '--replica-url', `postgres://postgres@127.0.0.1:${pair!.replicaPort}/app`], { env });
    expect(ok.stderr).toContain('throttle: pausing while any of 1 replica(s) lags more than 1500 ms');
    expect(ok.code).toBe(0);
  });

  test('a standby given by URL that stops answering (a silent host, no reset) pauses the backfill after 10 s, and the run goes on once it answers', async () => {
    // A database of its own: zmigrate's state in `app` holds the other tests' migrations.
    const { primary: quiet, standby: quietStandby } = await pairDatabase(pair!, 'quiet');
    const proxy = await silentProxy(pair!.replicaPort);
    try {
      await quiet.raw('CREATE TABLE items (id bigint PRIMARY KEY, amount integer NOT NULL)');
      await quiet.raw('INSERT INTO items SELECT g, g % 1000 FROM generate_series(1, ?) g', [ROWS]);
      await until('the standby has the rows', async () => (await count(quietStandby, 'SELECT count(*) FROM items')) === ROWS);
      await expandThroughSilence(pair!, quiet, proxy, `postgres://postgres@127.0.0.1:${proxy.port}/quiet`, 'cannot read its lag');
      expect(await count(quiet, 'SELECT count(*) FROM items WHERE doubled IS DISTINCT FROM amount * 2')).toBe(0);
    } finally {
      await proxy.close();
      await Promise.all([quiet.destroy(), quietStandby.destroy()]);
    }
  });

  test('a standby given by URL that rejects the password: exit 2, said so, the password not printed', async () => {
    // The standby asks this one role for a password (the pair trusts every other connection).
    await pair!.primary.raw("CREATE ROLE watcher LOGIN PASSWORD 'Right-Secret-3'");
    await pair!.primary.raw('GRANT pg_monitor TO watcher');
    const hbaFile = String(rowsOf<{ hba_file: string }>(await pair!.replica.raw('SHOW hba_file'))[0].hba_file);
    writeFileSync(hbaFile, `host all watcher 127.0.0.1/32 scram-sha-256\n${readFileSync(hbaFile, 'utf8')}`);
    await pair!.replica.raw('SELECT pg_reload_conf()');
    const watcherUrl = (password: string) => `postgres://watcher:${password}@127.0.0.1:${pair!.replicaPort}/app`;
    await until('the standby asks the watcher for its password', async () => {
      const attempt = knexFactory({ client: 'pg', connection: watcherUrl('Wrong-Secret-9'), pool: { min: 0, max: 1 }, log: QUIET });
      try {
        return await attempt.raw('SELECT 1').then(
          () => false,
          (error: { code?: string }) => error.code === '28P01',
        );
      } finally {
        await attempt.destroy();
      }
    });
    await pair!.primary.raw('CREATE DATABASE watched');
    const dir = migrationsDir({
      '0001_t.ts': migrationSource(["op.createTable('t', { columns: { id: { type: 'bigint', primaryKey: true } } })"]),
    });
    const env = { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('watched') };
    const wrong = await runCli(['expand', '--dir', dir, '--replica-url', watcherUrl('Wrong-Secret-9')], { env });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toContain(
      `replica postgres://watcher:***@127.0.0.1:${pair!.replicaPort}/app rejects the user name or password: password authentication failed`,
    );
    expect(wrong.stdout + wrong.stderr).not.toContain('Wrong-Secret-9');
    // The right one is let in.
    const right = await runCli(['expand', '--dir', dir, '--replica-url', watcherUrl('Right-Secret-3')], { env });
    expect(right.code).toBe(0);
    expect(right.stdout + right.stderr).not.toContain('Right-Secret-3');
  });

  test('a WAL receiver that never replays (pg_receivewal) is no standby: the backfill does not wait for it', async () => {
    const walDir = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-receivewal-'));
    const receiver = spawn(
      path.join(PG_BIN, 'pg_receivewal'),
      ['-D', walDir, '-h', '127.0.0.1', '-p', String(pair!.primaryPort), '-U', 'postgres', '--no-loop'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let receiverLog = '';
    receiver.stderr.on('data', (d) => (receiverLog += d));
    try {
      // It streams, and has told the primary where it wrote (never a replay position).
      await until('pg_receivewal streams', async () => {
        const rows = rowsOf<{ state: string; write_lsn: string | null; replay_lsn: string | null }>(
          await pair!.primary.raw(
            "SELECT state, write_lsn::text AS write_lsn, replay_lsn::text AS replay_lsn FROM pg_stat_replication WHERE application_name = 'pg_receivewal'",
          ),
        );
        if (receiver.exitCode !== null) throw new Error(`pg_receivewal ended: ${receiverLog}`);
        return rows.length === 1 && rows[0].state === 'streaming' && rows[0].write_lsn !== null && rows[0].replay_lsn === null;
      });
      await pair!.primary.raw('CREATE DATABASE archived');
      const archived = knexFactory({ client: 'pg', connection: pair!.primaryUrl('archived'), pool: { min: 0, max: 1 } });
      try {
        await archived.raw('CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL)');
        await archived.raw('INSERT INTO orders SELECT g, g % 1000 FROM generate_series(1, ?) g', [ROWS]);
        const dir = migrationsDir({
          '0001_doubled.ts': migrationSource(["op.addColumn('orders', 'doubled', { type: 'bigint', nullable: true, up: 'amount * 2' })"]),
        });
        // Were it counted as a standby behind, the run would pause and give up after 10 s.
        const result = await runCli(['expand', '--dir', dir, '--max-lag', '1000', '--throttle-max-wait', '10', ...SLOW_BATCHES], {
          env: { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('archived') },
        });
        expect(result.stderr).not.toMatch(/pg_receivewal/);
        expect(result.code).toBe(0);
        expect(await count(archived, 'SELECT count(*) FROM orders WHERE doubled IS DISTINCT FROM amount * 2')).toBe(0);
        expect(receiver.exitCode).toBeNull();
      } finally {
        await archived.destroy();
      }
    } finally {
      await new Promise<void>((resolve) => {
        if (receiver.exitCode !== null || receiver.signalCode !== null) return resolve();
        receiver.once('exit', () => resolve());
        receiver.kill('SIGTERM');
      });
      rmSync(walDir, { recursive: true, force: true });
    }
  });

  test('a migration user without pg_monitor cannot see the standby: one warning, no throttle', async () => {
    await pair!.primary.raw('CREATE ROLE plain LOGIN');
    await pair!.primary.raw('CREATE DATABASE plaindb OWNER plain');
    const url = `postgres://plain@127.0.0.1:${pair!.primaryPort}/plaindb`;
    const plain = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
    try {
      await plain.raw('CREATE TABLE items (id bigint PRIMARY KEY, amount integer NOT NULL)');
      await plain.raw('INSERT INTO items SELECT g, g % 1000 FROM generate_series(1, ?) g', [ROWS]);
      const dir = migrationsDir({
        '0001_doubled.ts': migrationSource(["op.addColumn('items', 'doubled', { type: 'bigint', nullable: true, up: 'amount * 2' })"]),
      });
      const result = await runCli(['expand', '--dir', dir, '--batch-size', '1000'], { env: { ZMIGRATE_DATABASE_URL: url } });
      expect(result.code).toBe(0);
      expect(result.stderr.match(/cannot read replica positions in pg_stat_replication \(grant pg_monitor/g)).toHaveLength(1);
      expect(result.stderr).not.toMatch(/throttling: /);
      expect(await count(plain, 'SELECT count(*) FROM items WHERE doubled IS DISTINCT FROM amount * 2')).toBe(0);
    } finally {
      await plain.destroy();
    }
  });
});

describe('MariaDB: a primary with a replica given by --replica-url', () => {
  const WATCHER_PASSWORD = 'watch-Secret-42';
  let pair: ServerPair | undefined;
  let app: Knex;
  let replicaUrl: string;

  beforeAll(async () => {
    pair = await startMariadbPair({ replicationPassword: 'repl-Secret-1' });
    // A user that may only watch replication, on the replica itself.
    await pair.replica.raw("CREATE USER 'watcher'@'127.0.0.1' IDENTIFIED BY ?", [WATCHER_PASSWORD]);
    await pair.replica.raw("GRANT SLAVE MONITOR ON *.* TO 'watcher'@'127.0.0.1'");
    replicaUrl = `mysql://watcher:${WATCHER_PASSWORD}@127.0.0.1:${pair.replicaPort}/`;
    await pair.primary.raw('CREATE DATABASE app');
    app = knexFactory({
      client: 'mysql2',
      connection: { host: '127.0.0.1', port: pair.primaryPort, user: 'root', database: 'app' },
      pool: { min: 0, max: 2 },
    });
    await app.raw('CREATE TABLE items (id bigint PRIMARY KEY, amount integer NOT NULL)');
    await app.raw(`INSERT INTO items SELECT seq, seq % 1000 FROM seq_1_to_${ROWS}`);
    await until('the replica has the rows', async () => (await count(pair!.replica, 'SELECT count(*) FROM app.items')) === ROWS);
  }, 60_000);

  afterAll(async () => {
    await app?.destroy();
    await pair?.stop();
  });

  const replicaStatus = async () => rowsOf<Record<string, unknown>>(await pair!.replica.raw('SHOW REPLICA STATUS'))[0];

  test('expand pauses while Seconds_Behind_Master is above --max-lag (MASTER_DELAY), and finishes once it is not', async () => {
    await pair!.replica.raw('STOP SLAVE');
    await pair!.replica.raw('CHANGE MASTER TO MASTER_DELAY = 3600');
    await pair!.replica.raw('START SLAVE');
    await app.raw('CREATE TABLE marker (id integer PRIMARY KEY)');
    await until('the replica lags 2 s', async () => Number((await replicaStatus()).Seconds_Behind_Master) >= 2);

    const dir = migrationsDir({
      '0001_doubled.ts': migrationSource(["op.addColumn('items', 'doubled', { type: 'bigint', nullable: true, up: 'amount * 2' })"]),
    });
    const running = startCli(['expand', '--dir', dir, '--max-lag', '1000', '--replica-url', replicaUrl, ...BATCHES], {
      ZMIGRATE_DATABASE_URL: pair!.primaryUrl('app'),
    });
    try {
      await expectPaused(running, app, 'SELECT count(*) FROM items WHERE doubled IS NULL');
      expect(running.stderr).toMatch(new RegExp(`replica 127\\.0\\.0\\.1:${pair!.replicaPort} lags \\d+\\.0 s > 1\\.0 s`));
      const paused = await statusWhilePaused(dir, pair!.primaryUrl('app'));
      expect(paused.throttled?.reason).toMatch(new RegExp(`replica 127\\.0\\.0\\.1:${pair!.replicaPort} lags \\d+\\.0 s > 1\\.0 s`));
      expect(paused.line).toMatch(/throttled since .+Z: replica 127\.0\.0\.1:\d+ lags/);
    } finally {
      await pair!.replica.raw('STOP SLAVE');
      await pair!.replica.raw('CHANGE MASTER TO MASTER_DELAY = 0');
      await pair!.replica.raw('START SLAVE');
    }
    const result = await running.done;
    expect(result.stderr).toMatch(/throttle lifted: replication lag \d+\.\d s/);
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(WATCHER_PASSWORD);
    expect(await count(app, 'SELECT count(*) FROM items WHERE NOT (doubled <=> amount * 2)')).toBe(0);
    await until(
      'the replica has the backfilled rows',
      async () => (await count(pair!.replica, 'SELECT count(*) FROM app.items WHERE doubled = amount * 2')) === ROWS,
    );
  });

  test('a stopped SQL thread throttles; --throttle-max-wait stops the run resumably, and a rerun finishes', async () => {
    await app.raw('CREATE TABLE parts (id bigint PRIMARY KEY, amount integer NOT NULL)');
    await app.raw(`INSERT INTO parts SELECT seq, seq % 1000 FROM seq_1_to_${ROWS}`);
    await until('the replica has the rows', async () => (await count(pair!.replica, 'SELECT count(*) FROM app.parts')) === ROWS);
    await pair!.replica.raw('STOP SLAVE SQL_THREAD');
    const dir = migrationsDir({
      '0001_doubled.ts': migrationSource(["op.addColumn('items', 'doubled', { type: 'bigint', nullable: true, up: 'amount * 2' })"]),
      '0002_tripled.ts': migrationSource(["op.addColumn('parts', 'tripled', { type: 'bigint', nullable: true, up: 'amount * 3' })"]),
    });
    const env = { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('app') };
    let stopped;
    try {
      stopped = await runCli(['expand', '--dir', dir, '--replica-url', replicaUrl, '--throttle-max-wait', '2', ...BATCHES], { env });
    } finally {
      await pair!.replica.raw('START SLAVE SQL_THREAD');
    }
    expect(stopped.stderr).toMatch(/throttling: replica 127\.0\.0\.1:\d+: replication SQL thread is not running/);
    expect(stopped.stderr).toMatch(
      /error: 0002_tripled \(expand\): replication lag stayed above 1\.5 s for \d+\.\d s .*run the same command again to resume/,
    );
    expect(stopped.code).toBe(1);
    expect(stopped.stdout + stopped.stderr).not.toContain(WATCHER_PASSWORD);
    const status = JSON.parse((await runCli(['status', '--json', '--dir', dir], { env })).stdout) as {
      migrations: Array<{ name: string; phase: string; throttled: unknown }>;
    };
    expect(status.migrations.map((m) => m.phase)).toContain('expanding');
    // The run gave up, so it is no longer paused: status does not say it is.
    expect(status.migrations.map((m) => m.throttled)).toEqual(status.migrations.map(() => null));

    const rerun = await runCli(['expand', '--dir', dir, '--replica-url', replicaUrl], { env });
    expect(rerun.code).toBe(0);
    expect(await count(app, 'SELECT count(*) FROM parts WHERE NOT (tripled <=> amount * 3)')).toBe(0);
  });

  test('a replica that stops answering (a silent host, no reset) pauses the backfill after 10 s, and the run goes on once it answers', async () => {
    // A database of its own: zmigrate's state in `app` holds the other tests' migrations.
    await pair!.primary.raw('CREATE DATABASE quiet');
    const quiet = knexFactory({
      client: 'mysql2',
      connection: { host: '127.0.0.1', port: pair!.primaryPort, user: 'root', database: 'quiet' },
      pool: { min: 0, max: 2 },
    });
    const proxy = await silentProxy(pair!.replicaPort);
    try {
      await quiet.raw('CREATE TABLE items (id bigint PRIMARY KEY, amount integer NOT NULL)');
      await quiet.raw(`INSERT INTO items SELECT seq, seq % 1000 FROM seq_1_to_${ROWS}`);
      await until('the replica has the rows', async () => (await count(pair!.replica, 'SELECT count(*) FROM quiet.items')) === ROWS);
      const url = `mysql://watcher:${WATCHER_PASSWORD}@127.0.0.1:${proxy.port}/`;
      const result = await expandThroughSilence(pair!, quiet, proxy, url, 'cannot read its status');
      expect(result.stdout + result.stderr).not.toContain(WATCHER_PASSWORD);
      expect(await count(quiet, 'SELECT count(*) FROM items WHERE NOT (doubled <=> amount * 2)')).toBe(0);
    } finally {
      await proxy.close();
      await quiet.destroy();
    }
  });

  /** A replica's error text may hold this, which status must not print. */
  const LEAKED = 'Leaky-Secret-5';

  /**
   * Stops the replica's SQL thread at a row of `database`.links it has already, whose key is a URL with a
   * password: its error (Last_SQL_Error) names the key. Returns what starts it again.
   */
  async function breakReplica(primary: Knex, database: string, host: string): Promise<() => Promise<void>> {
    const url = `postgres://svc:${LEAKED}@${host}/x`;
    await pair!.replica.raw(`INSERT INTO ${database}.links VALUES (?)`, [url]);
    await primary.raw('INSERT INTO links VALUES (?)', [url]);
    await until('the SQL thread stops', async () => String((await replicaStatus()).Slave_SQL_Running) === 'No');
    return async () => {
      await pair!.replica.raw(`DELETE FROM ${database}.links WHERE url = ?`, [url]);
      await pair!.replica.raw('START SLAVE SQL_THREAD');
    };
  }

  /** A database of its own (zmigrate's state in `app` holds the other tests' migrations), with items and links. */
  async function databaseOfItsOwn(database: string): Promise<Knex> {
    await pair!.primary.raw(`CREATE DATABASE ${database}`);
    const knex = knexFactory({
      client: 'mysql2',
      connection: { host: '127.0.0.1', port: pair!.primaryPort, user: 'root', database },
      pool: { min: 0, max: 2 },
    });
    await knex.raw('CREATE TABLE items (id bigint PRIMARY KEY, amount integer NOT NULL)');
    await knex.raw(`INSERT INTO items SELECT seq, seq % 1000 FROM seq_1_to_${ROWS}`);
    await knex.raw('CREATE TABLE links (url varchar(200) PRIMARY KEY)');
    await until('the replica has the rows', async () => (await count(pair!.replica, `SELECT count(*) FROM ${database}.items`)) === ROWS);
    return knex;
  }

  /** The pause zmigrate's state holds for the one migration, as stored. */
  const recordedPause = async (knex: Knex) =>
    String(rowsOf<{ throttled: string | null }>(await knex.raw('SELECT throttled FROM zmigrate_migrations'))[0].throttled);

  test("status shows a paused backfill's reason with the replica's error text redacted, as text and JSON; the state holds it redacted", async () => {
    const leaky = await databaseOfItsOwn('leaky');
    const env = { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('leaky') };
    const dir = migrationsDir({
      '0001_doubled.ts': migrationSource(["op.addColumn('items', 'doubled', { type: 'bigint', nullable: true, up: 'amount * 2' })"]),
    });
    const shown = /replica 127\.0\.0\.1:\d+: replication SQL thread is not running \(.*postgres:\/\/svc:\*\*\*@db\.example\/x/;
    try {
      const restart = await breakReplica(leaky, 'leaky', 'db.example');
      const running = startCli(['expand', '--dir', dir, '--replica-url', replicaUrl, '--max-lag', '1000', ...BATCHES], env);
      try {
        await running.waitForStderr(/throttling: replica 127\.0\.0\.1:\d+: replication SQL thread is not running/);
        const { entry, line } = await statusOncePaused(dir, pair!.primaryUrl('leaky'));
        expect(entry.throttled.reason).toMatch(new RegExp(`^${shown.source}`));
        expect(line).toMatch(new RegExp(`^0001_doubled\\s+expanding\\s+.*throttled since \\S+ \\S+Z: ${shown.source}`));
        expect(line + JSON.stringify(entry)).not.toContain(LEAKED);
        expect(await recordedPause(leaky)).toContain('postgres://svc:***@db.example/x');
        expect(await recordedPause(leaky)).not.toContain(LEAKED);
      } finally {
        await restart();
      }
      const result = await running.done;
      expect(result.code).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(LEAKED);
    } finally {
      await leaky.destroy();
    }
  });

  test("a backfill job's pause, at expand and at zmigrate backfill, is recorded for status, and cleared once over", async () => {
    const jobs = await databaseOfItsOwn('jobs');
    const env = { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('jobs') };
    const dir = migrationsDir({ '0001_doubled.ts': DOUBLING_JOB });
    try {
      for (const command of ['expand', 'backfill']) {
        const restart = await breakReplica(jobs, 'jobs', `${command}.example`);
        const running = startCli([command, '--dir', dir, '--replica-url', replicaUrl, '--max-lag', '1000', ...BATCHES], env);
        try {
          await running.waitForStderr(/throttling: replica 127\.0\.0\.1:\d+: replication SQL thread is not running/);
          const { entry, line } = await statusOncePaused(dir, pair!.primaryUrl('jobs'));
          // The job paused at expand (the migration expanding), and when zmigrate backfill runs it again (expanded).
          expect(entry.phase).toBe(command === 'expand' ? 'expanding' : 'expanded');
          expect(entry.throttled.reason).toMatch(/^replica 127\.0\.0\.1:\d+: replication SQL thread is not running/);
          expect(entry.throttled.reason).toContain(`postgres://svc:***@${command}.example/x`);
          expect(line).toMatch(new RegExp(`^0001_doubled\\s+${entry.phase}\\s+.*throttled since \\S+ \\S+Z: replica 127\\.0\\.0\\.1`));
          expect(line + JSON.stringify(entry)).not.toContain(LEAKED);
          expect(await count(jobs, 'SELECT count(*) FROM items WHERE doubled IS NULL')).toBeGreaterThan(0);
        } finally {
          await restart();
        }
        const result = await running.done;
        expect(result.code).toBe(0);
        expect(result.stderr).toMatch(/throttle lifted/);
        // Over: status no longer shows it.
        const status = JSON.parse((await runCli(['status', '--json', '--dir', dir], { env })).stdout) as {
          migrations: Array<Record<string, unknown>>;
        };
        expect(status.migrations).toEqual([expect.objectContaining({ phase: 'expanded', throttled: null })]);
        expect(await count(jobs, 'SELECT count(*) FROM items WHERE NOT (doubled <=> amount * 2)')).toBe(0);
        // What the job fills again at zmigrate backfill.
        await jobs.raw('UPDATE items SET doubled = NULL WHERE id <= 1000');
      }
    } finally {
      await jobs.destroy();
    }
  });

  test('SIGTERM while the backfill is paused for lag: it stops at once (exit 143), the pause is no longer shown, and a rerun finishes', async () => {
    const stopped = await databaseOfItsOwn('stopped');
    const env = { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('stopped') };
    const dir = migrationsDir({
      '0001_doubled.ts': migrationSource(["op.addColumn('items', 'doubled', { type: 'bigint', nullable: true, up: 'amount * 2' })"]),
    });
    try {
      const restart = await breakReplica(stopped, 'stopped', 'stop.example');
      try {
        const running = startCli(['expand', '--dir', dir, '--replica-url', replicaUrl, '--max-lag', '1000', ...BATCHES], env);
        await running.waitForStderr(/throttling: replica 127\.0\.0\.1:\d+: replication SQL thread is not running/);
        await statusOncePaused(dir, pair!.primaryUrl('stopped'));
        const sent = Date.now();
        running.child.kill('SIGTERM');
        const result = await running.done;
        // Not after the throttle's next look (a second), nor once the lag is gone.
        expect(Date.now() - sent).toBeLessThan(1000);
        expect({ code: result.code, signal: result.signal }).toEqual({ code: 143, signal: null });
        expect(result.stderr.trim().split('\n').at(-1)).toMatch(
          /^interrupted: 0001_doubled stopped after \d+ rows; run zmigrate expand to resume$/,
        );
        const status = JSON.parse((await runCli(['status', '--json', '--dir', dir], { env })).stdout) as {
          migrations: Array<Record<string, unknown>>;
        };
        expect(status.migrations).toEqual([expect.objectContaining({ phase: 'expanding', throttled: null })]);
      } finally {
        await restart();
      }
      const rerun = await runCli(['expand', '--dir', dir, '--replica-url', replicaUrl], { env });
      expect(rerun.code).toBe(0);
      expect(await count(stopped, 'SELECT count(*) FROM items WHERE NOT (doubled <=> amount * 2)')).toBe(0);
    } finally {
      await stopped.destroy();
    }
  });

  test('a replica URL with a wrong password, or a user without SLAVE MONITOR: exit 2, each said for what it is', async () => {
    const dir = migrationsDir({
      '0001_t.ts': migrationSource(["op.createTable('t', { columns: { id: { type: 'bigint', primaryKey: true } } })"]),
    });
    const env = { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('app') };
    const wrong = await runCli(
      ['expand', '--dir', dir, '--replica-url', `mysql://watcher:wrong-Secret-0@127.0.0.1:${pair!.replicaPort}/`],
      {
        env,
      },
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toContain(
      `replica mysql://watcher:***@127.0.0.1:${pair!.replicaPort}/ rejects the user name or password: Access denied for user 'watcher'`,
    );
    expect(wrong.stdout + wrong.stderr).not.toContain('wrong-Secret-0');

    await pair!.replica.raw("CREATE USER 'nosy'@'127.0.0.1' IDENTIFIED BY 'nosy-Secret-5'");
    const ungranted = await runCli(
      ['expand', '--dir', dir, '--replica-url', `mysql://nosy:nosy-Secret-5@127.0.0.1:${pair!.replicaPort}/`],
      {
        env,
      },
    );
    expect(ungranted.code).toBe(2);
    expect(ungranted.stderr).toContain(
      `replica mysql://nosy:***@127.0.0.1:${pair!.replicaPort}/ refuses SHOW REPLICA STATUS (grant REPLICATION CLIENT, or SLAVE MONITOR on MariaDB)`,
    );
    expect(ungranted.stdout + ungranted.stderr).not.toContain('nosy-Secret-5');
    expect(await count(app, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'app' AND table_name = 't'")).toBe(0);
  });

  test('a replica URL that cannot be reached, or is no replica: exit 2, one line, password not printed', async () => {
    const dir = migrationsDir({
      '0001_t.ts': migrationSource(["op.createTable('t', { columns: { id: { type: 'bigint', primaryKey: true } } })"]),
    });
    const env = { ZMIGRATE_DATABASE_URL: pair!.primaryUrl('app') };
    const port = await freePort();
    const gone = await runCli(['expand', '--dir', dir, '--replica-url', `mysql://watcher:${WATCHER_PASSWORD}@127.0.0.1:${port}/`], { env });
    expect(gone.code).toBe(2);
    expect(gone.stderr.trim().split('\n')).toHaveLength(1);
    expect(gone.stderr).toContain(`replica mysql://watcher:***@127.0.0.1:${port}/ cannot be reached`);
    expect(gone.stdout + gone.stderr).not.toContain(WATCHER_PASSWORD);
    const primary = await runCli(['expand', '--dir', dir, '--replica-url', `mysql://root@127.0.0.1:${pair!.primaryPort}/`], { env });
    expect(primary.code).toBe(2);
    expect(primary.stderr).toContain('is not a replica');
    expect(await count(app, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'app' AND table_name = 't'")).toBe(0);

    // The same from the config file.
    const project = path.dirname(dir);
    writeFileSync(
      path.join(project, 'zmigrate.config.json'),
      JSON.stringify({ replicaUrls: [`mysql://watcher:${WATCHER_PASSWORD}@127.0.0.1:${port}/`], maxLag: 1000 }),
    );
    const configured = await runCli(['expand'], { env, cwd: project });
    expect(configured.code).toBe(2);
    expect(configured.stderr).toContain(`replica mysql://watcher:***@127.0.0.1:${port}/ cannot be reached`);
    expect(configured.stdout + configured.stderr).not.toContain(WATCHER_PASSWORD);
  });
});
