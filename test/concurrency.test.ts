/**
 * Guarantee 5: two runners at once — one waits or refuses; nothing is
 * applied twice. Two real `zmigrate` processes on one database, on
 * PostgreSQL and MariaDB. (PGlite is left out: its data folder is opened by
 * one process at a time by design.)
 *
 * Each migration's raw SQL inserts one row into a counter table, after
 * waiting at a gate (a lock the test holds) until the test has seen the
 * other process arrive and wait while the runner lock is held.
 *
 * Mixed pairs: whoever holds the runner lock finishes its phase; the other
 * waits (and says so), then reads the state afresh and does what is left.
 * - contract arriving while expand runs contracts what that expand finished
 *   (contract means "the old app is gone", which holds for those too);
 * - rollback arriving while contract runs finds the migration complete and
 *   stops with exit code 2 and a message saying so: after contract there is
 *   nothing left to roll back, and undoing it would break the new app;
 * - expand arriving while contract runs expands only what is still pending;
 * - contract arriving while rollback runs contracts what is still expanded,
 *   not the migration just rolled back.
 * The second runner is started once the first is inside its slow statement,
 * so the overlap is certain; it must report that it waited.
 */
import { SERVER_ENGINES, createTestDatabase, type TestDatabase } from './support/databases';
import { heldBy, migrationSource, migrationsDir, runCli, type CliResult } from './support/cli';
import { parseStatus, startCli, type RunningCli } from './support/process';
import { inspect } from './support/inspect';
import { createDialect } from '../src/dialects';
import { rowsOf } from './support/apps';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

function q(engine: string, name: string): string {
  return engine === 'mysql' ? `\`${name}\`` : `"${name}"`;
}

describe.each(SERVER_ENGINES)('two runners on %s', (engine) => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({
      '0001_counter.ts': migrationSource(["op.createTable('counter', { columns: { marker: { type: 'varchar(50)', nullable: false } } })"]),
      '0002_first_bump.ts': migrationSource([
        `op.sql({ expand: ${gatedInsertSql('0002 expand')}, contract: ${gatedInsertSql('0002 contract')} })`,
      ]),
      '0003_second_bump.ts': migrationSource([
        `op.sql({ expand: ${gatedInsertSql('0003 expand')}, contract: ${gatedInsertSql('0003 contract')} })`,
      ]),
    });
  });
  afterAll(async () => {
    await db.drop();
  });

  const env = () => ({ ZMIGRATE_DATABASE_URL: db.url });
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: env() });
  const markers = async (): Promise<string[]> => {
    const result = await db.knex.raw(`SELECT marker FROM ${q(engine, 'counter')} ORDER BY marker`);
    const rows = engine === 'mysql' ? (result as [Array<{ marker: string }>])[0] : (result as { rows: Array<{ marker: string }> }).rows;
    return rows.map((r) => r.marker);
  };

  /** The phase zmigrate's state rows hold for a migration (read directly: a status process per check is slow). */
  const phaseOf = async (name: string): Promise<string | undefined> => {
    const table = engine === 'mysql' ? '`zmigrate_migrations`' : '"zmigrate"."migrations"';
    const result = await db.knex.raw(`SELECT phase FROM ${table} WHERE name = ?`, [name]);
    const rows = engine === 'mysql' ? (result as [Array<{ phase: string }>])[0] : (result as { rows: Array<{ phase: string }> }).rows;
    return rows[0]?.phase;
  };

  /**
   * op.sql strings (JS string literals) that insert a marker row; the gated one first waits for the gate,
   * a lock the test holds until it has seen the second runner wait (a sleep was too short once, on a
   * loaded machine, for the second process to start in time). On PostgreSQL the wait is exempt from
   * zmigrate's lock timeout.
   */
  const insertSql = (marker: string) => JSON.stringify(`INSERT INTO ${q(engine, 'counter')} (marker) VALUES ('${marker}')`);
  const gate = () => `zmigrate_test_gate_${db.base}`;
  const gatedInsertSql = (marker: string) =>
    JSON.stringify(
      `${
        engine === 'mysql'
          ? `SELECT GET_LOCK('${gate()}', 120); SELECT RELEASE_LOCK('${gate()}')`
          : `SET LOCAL lock_timeout = 0; SELECT pg_advisory_lock(hashtext('${gate()}')); SELECT pg_advisory_unlock(hashtext('${gate()}'))`
      }; INSERT INTO ${q(engine, 'counter')} (marker) VALUES ('${marker}')`,
    );
  /** Takes the gate in a connection of the test's own; `open` lets the gated statement through. */
  const closeGate = async (): Promise<{ open(): Promise<void> }> => {
    const trx = await db.knex.transaction();
    await trx.raw(engine === 'mysql' ? 'SELECT GET_LOCK(?, 0)' : 'SELECT pg_advisory_lock(hashtext(?))', [gate()]);
    return {
      async open() {
        await trx.raw(engine === 'mysql' ? 'SELECT RELEASE_LOCK(?)' : 'SELECT pg_advisory_unlock(hashtext(?))', [gate()]);
        await trx.commit();
      },
    };
  };

  /**
   * Starts two zmigrate processes at the same moment, and lets them through the gate once one of them is at it
   * (its stderr shows `atGate`) and the other waits for the runner lock: so the two certainly overlap.
   */
  async function twoAtOnce(command: string, atGate: RegExp): Promise<CliResult[]> {
    const gated = await closeGate();
    let runs: RunningCli[] = [];
    try {
      runs = [startCli([command, '--dir', dir], env()), startCli([command, '--dir', dir], env())];
      const either = (pattern: RegExp) => Promise.any(runs.map((run) => run.waitForStderr(pattern)));
      await Promise.all([either(atGate), either(/waiting for another zmigrate runner/)]);
    } finally {
      await gated.open();
    }
    return Promise.all(runs.map((run) => run.done));
  }

  test('two expands started at the same moment: one applies every migration once, the other waits and finds nothing to do', async () => {
    const [a, b] = await twoAtOnce('expand', /raw SQL \(expand\)/);
    for (const r of [a, b]) {
      expect(r.code).toBe(0);
      expect(r.stderr).not.toMatch(/error/i);
    }
    const winner = [a, b].filter((r) => r.stdout.includes('expanded 0001_counter, 0002_first_bump, 0003_second_bump'));
    const waiter = [a, b].filter((r) => r.stdout.includes('nothing to expand'));
    expect(winner).toHaveLength(1);
    expect(waiter).toHaveLength(1);
    // The loser really overlapped with the winner and waited, rather than arriving after it.
    expect(waiter[0].stderr).toMatch(/waiting for another zmigrate runner/);
    // Only the winner ran steps.
    expect(winner[0].stderr).toContain('raw SQL (expand)');
    expect(waiter[0].stderr).not.toContain('raw SQL (expand)');

    // Nothing applied twice: each migration's raw SQL inserted exactly one row.
    expect(await markers()).toEqual(['0002 expand', '0003 expand']);
    const status = parseStatus(await cli('status', '--json'));
    expect([...status.values()].map((m) => [m.name, m.phase])).toEqual([
      ['0001_counter', 'expanded'],
      ['0002_first_bump', 'expanded'],
      ['0003_second_bump', 'expanded'],
    ]);
    const state = await inspect(db);
    expect(state.tables).toEqual(['counter']);
    expect(state.versionSchemas).toEqual([`${db.base}_0001_counter`, `${db.base}_0002_first_bump`, `${db.base}_0003_second_bump`]);
  });

  test('with --wait 1 the second runner gives up with exit code 1 while the first is still in its slow statement', async () => {
    writeFileSync(path.join(dir, '0004_slow.ts'), migrationSource([`op.sql({ expand: ${gatedInsertSql('0004 expand')} })`]));
    const gated = await closeGate();
    const first = startCli(['expand', '--dir', dir], env());
    await first.waitForStderr(/raw SQL \(expand\)/);
    const started = Date.now();
    const second = await runCli(['expand', '--dir', dir, '--wait', '1'], { env: env() });
    const waited = Date.now() - started;

    expect(second.code).toBe(1);
    expect(second.stdout).toBe('');
    const errorLines = second.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/^error: another zmigrate runner is still working on this database: .+; gave up after 1 s/);
    // It names the holder: the PostgreSQL backend pid or the MariaDB connection id of the first runner (and, there,
    // how long it has been in its present state: PROCESSLIST keeps no time of connection).
    expect(errorLines[0]).toMatch(engine === 'mysql' ? /connection \d+ \(user \w+, from \S+, (query|sleep) for \d+s\)/ : /pid \d+/);
    expect(second.stderr).not.toMatch(/^\s+at /m);
    // It gave up after about the --wait time, while the first was still in its slow statement.
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(first.ended).toBe(false);
    await gated.open();

    const result = await first.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('expanded 0004_slow');
    expect(await markers()).toEqual(['0002 expand', '0003 expand', '0004 expand']);
    expect(parseStatus(await cli('status', '--json')).get('0004_slow')?.phase).toBe('expanded');
  });

  test('a runner that waits long enough gets its turn after the other finishes', async () => {
    writeFileSync(path.join(dir, '0005_slow.ts'), migrationSource([`op.sql({ expand: ${gatedInsertSql('0005 expand')} })`]));
    const gated = await closeGate();
    const first = startCli(['expand', '--dir', dir], env());
    await first.waitForStderr(/raw SQL \(expand\)/);
    const waiting = startCli(['expand', '--dir', dir, '--wait', '30'], env());
    await waiting.waitForStderr(/waiting for another zmigrate runner/);
    expect(first.ended).toBe(false);
    await gated.open();
    const second = await waiting.done;
    const firstResult = await first.done;
    expect(firstResult.code).toBe(0);
    expect(firstResult.stdout).toContain('expanded 0005_slow');
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/waiting for another zmigrate runner/);
    expect(second.stdout).toContain('nothing to expand');
    expect(await markers()).toEqual(['0002 expand', '0003 expand', '0004 expand', '0005 expand']);
  });

  test('two contracts at the same moment: each migration is contracted once; the other runner waits, then refuses clearly', async () => {
    const [a, b] = await twoAtOnce('contract', /raw SQL \(contract\)/);
    const results: CliResult[] = [a, b];
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const winner = results.filter((r) => r.stdout.startsWith('contracted'));
    const loser = results.filter((r) => !r.stdout.startsWith('contracted'));
    expect(winner).toHaveLength(1);
    expect(winner[0].stdout).toContain('contracted 0001_counter, 0002_first_bump, 0003_second_bump, 0004_slow, 0005_slow');
    expect(loser).toHaveLength(1);
    expect(loser[0].stderr).toMatch(/waiting for another zmigrate runner/);
    // It found everything already contracted: nothing to do, like a second expand.
    expect(loser[0].stdout).toMatch(/^nothing to contract: every migration is already complete/m);
    expect(loser[0].stderr).not.toContain('raw SQL (contract)');

    // Each contract SQL ran exactly once.
    expect(await markers()).toEqual(['0002 contract', '0002 expand', '0003 contract', '0003 expand', '0004 expand', '0005 expand']);
    const status = parseStatus(await cli('status', '--json'));
    expect([...status.values()].every((m) => m.phase === 'complete')).toBe(true);
    expect((await inspect(db)).versionSchemas).toEqual([`${db.base}_0005_slow`]);
  });

  test('expand, then contract arriving while it runs: contract waits, then contracts what expand finished, once', async () => {
    writeFileSync(
      path.join(dir, '0006_slow_expand.ts'),
      migrationSource([`op.sql({ expand: ${gatedInsertSql('0006 expand')}, contract: ${insertSql('0006 contract')} })`]),
    );
    const gated = await closeGate();
    const expand = startCli(['expand', '--dir', dir], env());
    await expand.waitForStderr(/raw SQL \(expand\)/);
    const contract = startCli(['contract', '--dir', dir], env());
    // The two overlap: contract is waiting while expand is still in its slow statement.
    await contract.waitForStderr(/waiting for another zmigrate runner/);
    expect(expand.ended).toBe(false);
    await gated.open();

    const [expanded, contracted] = await Promise.all([expand.done, contract.done]);
    expect(expanded.code).toBe(0);
    expect(expanded.stdout).toContain('expanded 0006_slow_expand');
    expect(expanded.stderr).not.toContain('raw SQL (contract)');
    expect(contracted.code).toBe(0);
    expect(contracted.stdout).toContain('contracted 0006_slow_expand');
    expect(contracted.stderr).not.toContain('raw SQL (expand)');
    expect(contracted.stderr).not.toMatch(/^error:/m);

    // Each phase ran its raw SQL once.
    expect((await markers()).filter((m) => m.startsWith('0006'))).toEqual(['0006 contract', '0006 expand']);
    expect(await phaseOf('0006_slow_expand')).toBe('complete');
    expect((await inspect(db)).versionSchemas).toEqual([`${db.base}_0006_slow_expand`]);
  });

  test('contract, then rollback arriving while it runs: rollback waits, then refuses with exit 2 because the migration is complete', async () => {
    writeFileSync(
      path.join(dir, '0007_slow_contract.ts'),
      migrationSource([
        `op.sql({ expand: ${insertSql('0007 expand')}, contract: ${gatedInsertSql('0007 contract')}, rollback: ${insertSql('0007 rollback')} })`,
      ]),
    );
    expect((await cli('expand')).stdout).toContain('expanded 0007_slow_contract');
    const gated = await closeGate();
    const contract = startCli(['contract', '--dir', dir], env());
    await contract.waitForStderr(/raw SQL \(contract\)/);
    const rollback = startCli(['rollback', '--dir', dir], env());
    await rollback.waitForStderr(/waiting for another zmigrate runner/);
    expect(contract.ended).toBe(false);
    await gated.open();

    const [contracted, rolledBack] = await Promise.all([contract.done, rollback.done]);
    expect(contracted.code).toBe(0);
    expect(contracted.stdout).toContain('contracted 0007_slow_contract');
    expect(rolledBack.code).toBe(2);
    expect(rolledBack.stdout).toBe('');
    const errorLines = rolledBack.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errorLines).toEqual([
      expect.stringMatching(
        /^error: nothing to roll back: 0007_slow_contract is complete \(contracted\), and rollback only undoes an expanded migration/,
      ),
    ]);
    expect(rolledBack.stderr).not.toMatch(/raw SQL|^\s+at /m);

    // Contracted once, never rolled back; the new app's version schema stays.
    expect((await markers()).filter((m) => m.startsWith('0007'))).toEqual(['0007 contract', '0007 expand']);
    expect(await phaseOf('0007_slow_contract')).toBe('complete');
    expect((await inspect(db)).versionSchemas).toEqual([`${db.base}_0007_slow_contract`]);
  });

  test('contract, then expand arriving while it runs: expand waits, then expands only the migration still pending', async () => {
    writeFileSync(
      path.join(dir, '0008_slow_contract.ts'),
      migrationSource([`op.sql({ expand: ${insertSql('0008 expand')}, contract: ${gatedInsertSql('0008 contract')} })`]),
    );
    expect((await cli('expand')).stdout).toContain('expanded 0008_slow_contract');
    writeFileSync(path.join(dir, '0009_next.ts'), migrationSource([`op.sql({ expand: ${insertSql('0009 expand')} })`]));
    const gated = await closeGate();
    const contract = startCli(['contract', '--dir', dir], env());
    await contract.waitForStderr(/raw SQL \(contract\)/);
    const expand = startCli(['expand', '--dir', dir], env());
    await expand.waitForStderr(/waiting for another zmigrate runner/);
    expect(contract.ended).toBe(false);
    await gated.open();

    const [contracted, expanded] = await Promise.all([contract.done, expand.done]);
    expect(contracted.code).toBe(0);
    expect(contracted.stdout).toMatch(/^contracted 0008_slow_contract;/m);
    expect(expanded.code).toBe(0);
    expect(expanded.stdout).toMatch(/^expanded 0009_next;/m);
    expect((await markers()).filter((m) => /^000[89]/.test(m))).toEqual(['0008 contract', '0008 expand', '0009 expand']);
    expect([await phaseOf('0008_slow_contract'), await phaseOf('0009_next')]).toEqual(['complete', 'expanded']);
  });

  test('rollback, then contract arriving while it runs: contract waits, then contracts only what is still expanded', async () => {
    writeFileSync(
      path.join(dir, '0010_slow_rollback.ts'),
      migrationSource([
        `op.sql({ expand: ${insertSql('0010 expand')}, contract: ${insertSql('0010 contract')}, rollback: ${gatedInsertSql('0010 rollback')} })`,
      ]),
    );
    expect((await cli('expand')).stdout).toContain('expanded 0010_slow_rollback');
    const gated = await closeGate();
    const rollback = startCli(['rollback', '--dir', dir], env());
    await rollback.waitForStderr(/raw SQL \(rollback\)/);
    const contract = startCli(['contract', '--dir', dir], env());
    await contract.waitForStderr(/waiting for another zmigrate runner/);
    expect(rollback.ended).toBe(false);
    await gated.open();

    const [rolledBack, contracted] = await Promise.all([rollback.done, contract.done]);
    expect(rolledBack.code).toBe(0);
    expect(rolledBack.stdout).toContain('rolled back 0010_slow_rollback');
    expect(contracted.code).toBe(0);
    expect(contracted.stdout).toMatch(/^contracted 0009_next;/m);
    expect(contracted.stdout).not.toContain('0010');
    expect((await markers()).filter((m) => /^(0009|0010)/.test(m))).toEqual(['0009 expand', '0010 expand', '0010 rollback']);
    expect([await phaseOf('0009_next'), await phaseOf('0010_slow_rollback')]).toEqual(['complete', 'rolled back']);
    expect((await inspect(db)).versionSchemas).toEqual([`${db.base}_0009_next`]);
  });
});

describe.each(SERVER_ENGINES)('a runner whose session the server ends, on %s', (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await db.drop();
  });

  test('takes the runner lock back at once in a new session, not at its next statement, so a second runner is turned away', async () => {
    const runner = createDialect(db.url, { lockTimeoutMs: 1000 });
    const second = createDialect(db.url, { lockTimeoutMs: 1000 });
    try {
      await runner.connect({ lockTimeoutMs: 1000 });
      await second.connect({ lockTimeoutMs: 1000 });
      expect(await runner.acquireRunnerLock(0)).toBe(true);
      const [{ id }] = rowsOf<{ id: number }>(
        await runner.knex.raw(engine === 'mysql' ? 'SELECT CONNECTION_ID() AS id' : 'select pg_backend_pid() as id'),
      );
      await db.knex.raw(
        engine === 'mysql' ? `KILL CONNECTION ${Number(id)}` : 'select pg_terminate_backend(?)',
        engine === 'mysql' ? [] : [Number(id)],
      );
      // The runner runs no statement from here on: only its own reaction to the ended session can take the lock back.
      const deadline = Date.now() + 10_000;
      let holder: string | undefined;
      while (!(holder = await second.describeRunnerLockHolder()) || heldBy(holder, id)) {
        if (Date.now() > deadline) throw new Error(`the runner lock was not taken back (holder: ${holder ?? 'none'})`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await second.acquireRunnerLock(0)).toBe(false);
      expect(await runner.holdsRunnerLock()).toBe(true);
    } finally {
      await Promise.all([runner.close(), second.close()]);
    }
  });
});
