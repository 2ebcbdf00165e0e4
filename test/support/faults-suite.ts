/**
 * Fault injection (issue 6), shared by test/faults-postgres.test.ts and
 * test/faults-mysql.test.ts so the two engines run in parallel:
 *
 * - SIGKILL of the runner at seeded random moments of expand (DDL steps and
 *   backfill), contract and rollback, while an app writes; a rerun finishes
 *   the cycle, the table matches an oracle of the acknowledged writes and the
 *   schema equals that of an uninterrupted run.
 * - zmigrate's server session killed under it mid-step (pg_terminate_backend,
 *   KILL CONNECTION): retried, or a clean one-line failure a rerun repairs.
 * - (MySQL/MariaDB) a raw SQL step whose second DDL statement fails after the
 *   first took effect: status shows it, a rerun or a rollback repairs it.
 *
 * Replay one seed: ZMIGRATE_FAULT_SEED=<seed> ZMIGRATE_FAULT_SEEDS=1 (the seed decides where the kill lands).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { createTestDatabase, type TestDatabase } from './databases';
import { heldBy, migrationSource, migrationsDir, runCli, type CliResult } from './cli';
import { createDialect } from '../../src/dialects';
import { inspect } from './inspect';
import { kill9, parseStatus, startCli, type RunningCli } from './process';
import { retryViewSwap, rowsOf, startWriter, type Writer } from './apps';

const ROWS = 6_000;
const SEEDS = Number(process.env.ZMIGRATE_FAULT_SEEDS ?? 20);
const FIRST_SEED = Number(process.env.ZMIGRATE_FAULT_SEED ?? 6_000);
const BATCH = ['--batch-size', '100'];
const MIGRATION = '0001_orders';
const ORDERS = migrationSource([
  "op.renameColumn('orders', 'customer', 'customer_name')",
  "op.alterColumn('orders', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })",
]);

/** mulberry32: a small seeded PRNG, so a failing seed replays the same choices. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Where = 'expand' | 'backfill' | 'contract' | 'rollback';
/** The backfill's step line: an UPDATE in place, or on MySQL/MariaDB the copy into the shadow table. */
const BACKFILL_STEP = /^ {2}· (backfill orders\._zm_amount|copy orders into \S+, filling _zm_amount)$/;
interface KillPlan {
  seed: number;
  where: Where;
  /** expand → contract or expand → rollback. */
  end: 'contract' | 'rollback';
  /** Which stderr line of the phase to wait for, and how far into the gap after it to kill, as fractions. */
  anchor: number;
  delay: number;
}

function killPlans(): KillPlan[] {
  const wheres: Where[] = ['expand', 'backfill', 'contract', 'rollback'];
  return Array.from({ length: SEEDS }, (_, i) => {
    const seed = FIRST_SEED + i;
    const random = prng(seed);
    const where = wheres[seed % wheres.length];
    const end = where === 'contract' ? 'contract' : where === 'rollback' ? 'rollback' : random() < 0.5 ? 'contract' : 'rollback';
    return { seed, where, end, anchor: random(), delay: random() };
  });
}

/** A line of stderr and when it arrived, in ms since the process started. */
interface Timed {
  line: string;
  at: number;
}

/** Records when each stderr line of a running CLI arrives. */
function timeLines(run: RunningCli): Timed[] {
  const started = Date.now();
  const lines: Timed[] = [];
  let partial = '';
  run.child.stderr.on('data', (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push({ line, at: Date.now() - started });
  });
  return lines;
}

/** One row as the oracle expects it: the old app's names. */
interface Order {
  customer: string;
  amount: number;
}

/**
 * The app: inserts, updates and deletes in the old shape (base table) or the
 * new one (the version schema), and an oracle of every acknowledged write.
 */
class App {
  readonly oracle = new Map<number, Order>();
  /** When a new-app write found its MySQL view broken after every retry (not written, so not in the oracle). */
  readonly brokenView: number[] = [];
  #nextId = 1_000_000;

  constructor(private readonly random: () => number) {
    for (let id = 1; id <= ROWS; id++) this.oracle.set(id, { customer: `c${id}`, amount: id % 1000 });
  }

  /** Every writer started, so a test that fails half-way does not leave one writing into the next test's table. */
  static readonly started: Writer[] = [];

  start(knex: Knex, shape: 'old' | 'new'): Writer {
    return App.#track(
      startWriter(
        (i) =>
          this.#write(knex, shape, i).catch((error: unknown) => {
            if ((error as { errno?: number }).errno !== 1356) throw error;
            this.brokenView.push(Date.now());
          }),
        { pauseMs: 2 },
      ),
    );
  }

  static #track(writer: Writer): Writer {
    App.started.push(writer);
    return writer;
  }

  async #write(knex: Knex, shape: 'old' | 'new', i: number): Promise<void> {
    const customer = shape === 'old' ? 'customer' : 'customer_name';
    const pick = this.random();
    const ids = [...this.oracle.keys()];
    const id = ids[Math.floor(this.random() * ids.length)];
    if (pick < 0.4) {
      const row = { id: this.#nextId++, [customer]: `${shape}${i}`, amount: i % 5000 };
      await retryViewSwap(() => knex('orders').insert(row));
      this.oracle.set(row.id, { customer: `${shape}${i}`, amount: i % 5000 });
    } else if (pick < 0.7) {
      await retryViewSwap(() =>
        knex('orders')
          .where({ id })
          .update({ amount: 7000 + i }),
      );
      this.oracle.get(id)!.amount = 7000 + i;
    } else if (pick < 0.9) {
      await retryViewSwap(() =>
        knex('orders')
          .where({ id })
          .update({ [customer]: `u${shape}${i}` }),
      );
      this.oracle.get(id)!.customer = `u${shape}${i}`;
    } else {
      await retryViewSwap(() => knex('orders').where({ id }).delete());
      this.oracle.delete(id);
    }
  }

  /** Rows that differ from the oracle (missing, extra or wrong), a few of them described. */
  async compare(knex: Knex, customer: 'customer' | 'customer_name'): Promise<string[]> {
    const rows = rowsOf<{ id: number | string; customer: string; amount: number | string }>(
      await knex.raw(`SELECT id, ${customer} AS customer, amount FROM orders`),
    );
    const seen = new Set<number>();
    const wrong: string[] = [];
    for (const r of rows) {
      const id = Number(r.id);
      seen.add(id);
      const want = this.oracle.get(id);
      if (!want) wrong.push(`extra row ${id}`);
      else if (want.customer !== r.customer || want.amount !== Number(r.amount))
        wrong.push(`row ${id} is (${r.customer}, ${r.amount}), expected (${want.customer}, ${want.amount})`);
    }
    for (const id of this.oracle.keys()) if (!seen.has(id)) wrong.push(`lost row ${id}`);
    return wrong;
  }
}

/** Everything a run leaves in the schema, with column types and nullability, to compare runs. */
async function shape(db: TestDatabase) {
  const s = await inspect(db);
  const pg = db.engine === 'postgres';
  const columns = rowsOf<{ t: string; c: string; type: string; nullable: string }>(
    await db.knex.raw(
      pg
        ? "select table_name as t, column_name as c, data_type as type, is_nullable as nullable from information_schema.columns where table_schema = 'public' order by 1, ordinal_position"
        : "select table_name as t, column_name as c, column_type as type, is_nullable as nullable from information_schema.columns where table_schema = ? and table_name not like 'zmigrate\\_%' order by 1, ordinal_position",
      pg ? [] : [db.base],
    ),
  ).map((r) => `${r.t}.${r.c} ${r.type}${r.nullable === 'NO' ? ' not null' : ''}`);
  const constraints = pg
    ? rowsOf<{ c: string }>(
        await db.knex.raw("select conname as c from pg_constraint where connamespace = 'public'::regnamespace order by 1"),
      ).map((r) => r.c)
    : [];
  return {
    tables: s.tables,
    versionSchemas: s.versionSchemas,
    triggers: s.triggers,
    columns,
    constraints,
    visibleColumns: Object.fromEntries(s.tables.map((t) => [t, s.visibleColumns(t)])),
    indexes: Object.fromEntries(s.tables.map((t) => [t, [...s.indexes(t)].sort()])),
    views: Object.fromEntries(s.versionSchemas.map((v) => [v, s.views(v)])),
  };
}
type Shape = Awaited<ReturnType<typeof shape>>;

export function faultSuite(engine: 'postgres' | 'mysql'): void {
  const pg = engine === 'postgres';
  let db: TestDatabase;
  let dir: string;
  const env = () => ({ ZMIGRATE_DATABASE_URL: db.url });
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], { env: env() });
  /** The migration's phase, from zmigrate's state table (README: how zmigrate keeps its state), without a process per look. */
  const phase = async (name = MIGRATION) =>
    rowsOf<{ phase: string }>(
      await sql(`SELECT phase FROM ${pg ? 'zmigrate.migrations' : 'zmigrate_migrations'} WHERE name = ?`, [name]),
    )[0]?.phase;
  const versionSchema = () => `${db.base}_${MIGRATION}`;
  /** Whether an expand step's backfill has committed part of its walk and not all (a step still running, with a checkpoint). */
  const partlyBackfilled = async () =>
    rowsOf<{ checkpoint: string }>(
      await sql(
        `SELECT checkpoint FROM ${pg ? 'zmigrate.steps' : 'zmigrate_steps'} WHERE migration = ? AND phase = 'expand' AND status = 'running' AND checkpoint IS NOT NULL`,
        [MIGRATION],
      ),
    ).some((r) => (JSON.parse(r.checkpoint) as { last: unknown[] | null }).last !== null);
  const sql = (text: string, bindings: unknown[] = []) => db.knex.raw(text, bindings as Knex.RawBinding[]);

  /** Drops what a run left behind and loads a fresh orders table: every seed starts from the same database. */
  async function reset(): Promise<void> {
    if (pg) {
      const schemas = rowsOf<{ s: string }>(await sql("select nspname as s from pg_namespace where nspname like 'public\\_%'"));
      for (const { s } of schemas) await sql('DROP SCHEMA ?? CASCADE', [s]);
      await sql('DROP SCHEMA IF EXISTS zmigrate CASCADE');
      await sql('DROP TABLE IF EXISTS orders, audit, audit_log CASCADE');
      await sql('CREATE TABLE orders (id integer PRIMARY KEY, customer varchar(100) NOT NULL, amount integer NOT NULL)');
      await sql("INSERT INTO orders SELECT g, 'c' || g, g % 1000 FROM generate_series(1, ?) g", [ROWS]);
    } else {
      const schemas = rowsOf<{ s: string }>(
        await sql('SELECT schema_name AS s FROM information_schema.schemata WHERE schema_name LIKE ?', [
          `${db.base.replace(/_/g, '\\_')}\\_%`,
        ]),
      );
      for (const { s } of schemas) await sql('DROP DATABASE ??', [s]);
      await sql('DROP TABLE IF EXISTS orders, audit, audit_log, zmigrate_migrations, zmigrate_steps');
      await sql('CREATE TABLE orders (id integer PRIMARY KEY, customer varchar(100) NOT NULL, amount integer NOT NULL)');
      await sql(`INSERT INTO orders SELECT seq, CONCAT('c', seq), seq % 1000 FROM seq_1_to_${ROWS}`);
    }
  }

  const ok = (result: CliResult, what: string): CliResult => {
    if (result.code !== 0) throw new Error(`${what} exited ${result.code}: ${result.stderr}`);
    return result;
  };

  /** Lines of an uninterrupted run of each phase, with their times, to aim kills at. */
  const reference: Record<'expand' | 'contract' | 'rollback', Timed[]> = { expand: [], contract: [], rollback: [] };
  const final: Partial<Record<'expanded' | 'contract' | 'rollback', Shape>> = {};
  const outcomes: Array<{ where: Where; killed: boolean }> = [];

  /** Runs a phase to the end, recording its stderr lines' times. */
  async function timedRun(phaseName: 'expand' | 'contract' | 'rollback'): Promise<{ result: CliResult; lines: Timed[] }> {
    const run = startCli([phaseName, '--dir', dir, ...BATCH], env());
    const lines = timeLines(run);
    const result = ok(await run.done, phaseName);
    return { result, lines };
  }

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    dir = migrationsDir({ [`${MIGRATION}.ts`]: ORDERS });
    // Uninterrupted runs, with the app writing: the shapes every faulty run must end in, and the timings to aim at.
    for (const end of ['contract', 'rollback'] as const) {
      await reset();
      const app = new App(prng(1));
      const writer = app.start(db.knex, 'old');
      const expand = await timedRun('expand');
      await writer.stop();
      reference.expand = expand.lines;
      final.expanded = await shape(db);
      const after = end === 'contract' ? app.start(db.versionKnex(versionSchema()), 'new') : app.start(db.knex, 'old');
      reference[end] = (await timedRun(end)).lines;
      expect((await after.stop()).failures).toEqual([]);
      final[end] = await shape(db);
      expect(await app.compare(db.knex, end === 'contract' ? 'customer_name' : 'customer')).toEqual([]);
    }
  });
  /** Transactions the test holds locks with: let go even when a test fails half-way. */
  const holders: Knex.Transaction[] = [];
  /** MariaDB: the sessions of those transactions, which are the test's, not zmigrate's. */
  const heldSessions = new Set<number>();
  const hold = async (statement: string): Promise<Knex.Transaction> => {
    const trx = await db.knex.transaction();
    holders.push(trx);
    if (!pg) heldSessions.add(Number(rowsOf<{ id: number }>(await trx.raw('SELECT CONNECTION_ID() AS id'))[0].id));
    await trx.raw(statement);
    return trx;
  };
  afterEach(async () => {
    for (const trx of holders.splice(0)) if (!trx.isCompleted()) await trx.rollback().catch(() => undefined);
    // Stopping a writer twice is harmless: one a test stopped returns at once.
    for (const writer of App.started.splice(0)) await writer.stop();
  });
  afterAll(async () => {
    await db?.drop();
  });

  test('the uninterrupted runs end in the expected shapes', () => {
    const [int, big, varchar] = pg ? ['integer', 'bigint', 'character varying'] : ['int(11)', 'bigint(20)', 'varchar(100)'];
    expect(final.expanded!.columns).toEqual([
      `orders.id ${int} not null`,
      `orders.customer ${varchar} not null`,
      `orders.amount ${int} not null`,
      `orders._zm_amount ${big}`,
    ]);
    expect(final.contract!.columns).toEqual([
      `orders.id ${int} not null`,
      `orders.customer_name ${varchar} not null`,
      `orders.amount ${big} not null`,
    ]);
    expect(final.rollback!.tables).toEqual(['orders']);
    expect(final.rollback!.triggers).toEqual([]);
    expect(final.rollback!.versionSchemas).toEqual([]);
    expect(final.contract!.versionSchemas).toEqual([versionSchema()]);
    const steps = reference.expand.filter((l) => l.line.startsWith('  · '));
    expect(steps.length).toBeGreaterThanOrEqual(5);
  });

  /** Where to kill: after which stderr line of the phase, and how long after it. */
  function aim(plan: KillPlan): { line: string; afterMs: number } {
    const phaseName = plan.where === 'backfill' ? 'expand' : plan.where;
    const lines = reference[phaseName];
    const backfillStart = lines.findIndex((l) => BACKFILL_STEP.test(l.line));
    const backfillEnd = lines.findIndex((l) => /^ {2}· backfill orders: .*, done in /.test(l.line));
    if (plan.where === 'backfill') {
      const span = Math.max(1, lines[backfillEnd].at - lines[backfillStart].at);
      return { line: lines[backfillStart].line, afterMs: Math.floor(plan.delay * span) };
    }
    // Any line of the phase but a walk's progress: the header (the kill lands while it plans) or a step.
    // Not a line that ends a walk (the backfill, a redo, MariaDB's catch-up over the shadow) or a verification
    // either: it says how many rows and how long, so no other run prints it alike; nor a warning (a lock retry
    // and its delay), which another run may not print at all.
    const anchors = lines
      .map((l, i) => ({ ...l, gap: (lines[i + 1]?.at ?? l.at + 20) - l.at }))
      .filter(
        (l, i) =>
          l.line !== '' &&
          !/^ {2}(· verified |· backfill \S+: |! )/.test(l.line) &&
          !(plan.where === 'expand' && i > backfillStart && i <= backfillEnd),
      );
    const chosen = anchors[Math.floor(plan.anchor * anchors.length)];
    return { line: chosen.line, afterMs: Math.floor(plan.delay * Math.min(chosen.gap, 50)) };
  }

  test.each(killPlans())('seed $seed: SIGKILL during $where, rerun, then to the end of expand → $end', async (plan) => {
    const { seed, where, end } = plan;
    const context = `seed ${seed} (replay: ZMIGRATE_FAULT_SEED=${seed} ZMIGRATE_FAULT_SEEDS=1)`;
    await reset();
    const app = new App(prng(seed));
    let writer = app.start(db.knex, 'old');
    const target = aim(plan);
    const killPhase = where === 'backfill' ? 'expand' : where;

    if (killPhase !== 'expand') ok(await cli('expand', ...BATCH), `${context}: expand`);
    if (killPhase === 'contract') {
      await writer.stop();
      writer = app.start(db.versionKnex(versionSchema()), 'new');
    }
    const run = startCli([killPhase, '--dir', dir, ...BATCH], env());
    const escaped = target.line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await run.waitForStderr(new RegExp(`^${escaped}$`));
    if (target.afterMs > 0) await new Promise((r) => setTimeout(r, target.afterMs));
    const deadFrom = Date.now();
    const killed = await kill9(run);
    // A kill aimed at the backfill landed there only if the walk was part-way: some batches committed, not all.
    outcomes.push({ where, killed: killed.signal === 'SIGKILL' && (where !== 'backfill' || (await partlyBackfilled())) });
    if (killed.signal !== 'SIGKILL') ok(killed, `${context}: ${killPhase} (finished before the kill)`);
    if (pg) {
      // PostgreSQL ends a gone client's sessions, mid-statement too, within its client check (500 ms; the long
      // statement's test below holds that bound against a 60 s statement). Waiting for it keeps the rerun, which may
      // start sooner, from racing it (it did once in a clean-clone run: `waiting for another zmigrate runner`). The
      // wait is `until`'s, as there: a clean-clone run on a loaded machine once still had a session after 5 s, and a
      // timeout lists what each session was doing.
      await until(`${context}: the killed runner's sessions to end`, async () => (await zmigrateSessions(new Set())).length === 0, run);
    }

    // The rerun of the same command finishes it. On PostgreSQL without waiting for a runner lock the dead process
    // held (the server checks that the client is still there, mid-statement too); MySQL/MariaDB notice a client gone
    // only when its statement in flight ends, so a kill that lands in a DDL statement may make the rerun wait that
    // long (README, Known limitations), which is all the waiting allowed there: the rerun must still finish cleanly.
    const resume = async (command: string) => {
      const rerun = await cli(command, ...BATCH);
      expect([context, rerun.code, rerun.stderr]).toEqual([
        context,
        0,
        expect.not.stringMatching(pg ? /error|waiting for another zmigrate runner/i : /error/i),
      ]);
    };
    if (killPhase !== 'rollback' || (await phase()) !== 'rolled back') await resume(killPhase);
    const deadUntil = Date.now();
    if (killPhase === 'expand') {
      expect([context, await phase()]).toEqual([context, 'expanded']);
      expect([context, await shape(db)]).toEqual([context, final.expanded]);
      if (end === 'contract') {
        await writer.stop();
        writer = app.start(db.versionKnex(versionSchema()), 'new');
      }
      ok(await cli(end), `${context}: ${end}`);
    }
    const stats = await writer.stop();
    expect([context, stats.failures]).toEqual([context, []]);
    // MariaDB: a contract killed between renaming a column and recreating the view over it leaves the new
    // app's view broken until the rerun recreates it (README, Limits); nowhere else may a write fail.
    const allowed = !pg && killPhase === 'contract' ? (at: number) => at >= deadFrom && at <= deadUntil : () => false;
    expect([context, app.brokenView.filter((at) => !allowed(at)).length]).toEqual([context, 0]);
    expect(stats.writes).toBeGreaterThan(0);
    expect([context, await phase()]).toEqual([context, end === 'contract' ? 'complete' : 'rolled back']);
    expect([context, await shape(db)]).toEqual([context, final[end]]);
    expect([context, await app.compare(db.knex, end === 'contract' ? 'customer_name' : 'customer')]).toEqual([context, []]);
  });

  test('the kills landed in a live process in every part of the cycle the seeds aimed at', () => {
    const aimed = [...new Set(outcomes.map((o) => o.where))];
    expect(aimed.length).toBe(Math.min(SEEDS, 4));
    const hits = Object.fromEntries(aimed.map((where) => [where, outcomes.filter((o) => o.where === where && o.killed).length > 0]));
    expect(hits).toEqual(Object.fromEntries(aimed.map((where) => [where, true])));
  });

  // ── zmigrate's server session killed under it ─────────────────────────

  /** zmigrate's sessions: application_name on PostgreSQL; on MariaDB, sessions on the database that are not the test's own. */
  async function zmigrateSessions(ours: Set<number>): Promise<number[]> {
    const rows = pg
      ? rowsOf<{ id: number }>(
          await sql("select pid as id from pg_stat_activity where application_name = 'zmigrate' and datname = current_database()"),
        )
      : rowsOf<{ id: number }>(
          await sql('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()', [db.base]),
        );
    return rows.map((r) => Number(r.id)).filter((id) => !ours.has(id) && !heldSessions.has(id));
  }
  async function ourSessions(): Promise<Set<number>> {
    return pg ? new Set() : new Set(await zmigrateSessions(new Set()));
  }
  async function killSessions(ids: number[]): Promise<void> {
    for (const id of ids) await sql(pg ? 'select pg_terminate_backend(?)' : `KILL CONNECTION ${Number(id)}`, pg ? [id] : []);
  }
  async function until(what: string, condition: () => Promise<boolean>, run?: RunningCli): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await condition())) {
      if (Date.now() > deadline) {
        const sessions = rowsOf(
          await sql(
            pg
              ? 'select pid, application_name, state, wait_event_type, wait_event, query from pg_stat_activity where datname = current_database()'
              : 'SELECT p.ID, p.COMMAND, p.STATE, p.INFO, t.trx_state FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID WHERE p.DB = ?',
            pg ? [] : [db.base],
          ),
        );
        throw new Error(
          `timed out waiting for ${what}; sessions ${JSON.stringify(sessions)}; zmigrate said ${JSON.stringify(run?.stderr)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Either zmigrate reconnected and finished, or it stopped with one clear line
   * (exit 1, no stack) and a rerun of the same command finishes.
   */
  async function retriedOrCleanFailure(result: CliResult, command: string): Promise<void> {
    expect(result.stderr).toMatch(/connection lost during .*; reconnecting|lost the connection/);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    if (result.code === 0) {
      expect(result.stderr).not.toMatch(/^error:/m);
      return;
    }
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    const rerun = await cli(command);
    expect([rerun.code, rerun.stderr]).toEqual([0, expect.not.stringMatching(/error|waiting for another zmigrate runner/i)]);
  }

  test('session killed during the backfill: expand takes a new session, keeps the runner lock all along, and ends expanded', async () => {
    await reset();
    const ours = await ourSessions();
    const run = startCli(['expand', '--dir', dir, '--batch-size', '50', '--batch-delay', '20', '--lock-timeout', '60000'], env());
    await run.waitForStderr(BACKFILL_STEP);
    // The test holds the last row, so the backfill is still under way (waiting for it) when the second runner comes.
    const holder = await hold(`SELECT id FROM orders WHERE id = ${ROWS} FOR UPDATE`);
    await run.waitForStderr(/^ {2}· backfill orders: [\d,]+ /);
    const killed = await zmigrateSessions(ours);
    expect(killed.length).toBeGreaterThan(0);
    await killSessions(killed);
    // The runner's new session is opened at once, not at its next statement (which waits for the held row).
    const watcher = createDialect(db.url, { lockTimeoutMs: 1000 });
    try {
      await watcher.connect({ lockTimeoutMs: 1000 });
      await until('a new session of the runner to hold the runner lock', async () => {
        const holder = await watcher.describeRunnerLockHolder();
        return holder !== undefined && !killed.some((id) => heldBy(holder, id));
      });
    } finally {
      await watcher.close();
    }
    await until(
      'zmigrate to wait for the held row in a new session',
      async () => {
        const sessions = (await zmigrateSessions(ours)).filter((id) => !killed.includes(id));
        if (sessions.length === 0) return false;
        const waiting = pg
          ? await sql(
              `select pid from pg_stat_activity where pid in (${sessions.map(() => '?').join(', ')}) and wait_event_type = 'Lock'`,
              sessions,
            )
          : await sql(
              // MariaDB shows a row-lock wait as a running statement, not in INNODB_TRX: the UPDATE in place, or the copy's locking read.
              `SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND (INFO LIKE 'UPDATE %' OR INFO LIKE '%LOCK IN SHARE MODE%')
                  AND ID IN (${sessions.map(() => '?').join(', ')})`,
              sessions,
            );
        return rowsOf(waiting).length > 0;
      },
      run,
    );
    // The new session took the runner lock back: a second runner is turned away rather than let in.
    const second = await cli('expand', '--wait', '0');
    expect([second.code, second.stderr]).toEqual([
      1,
      expect.stringMatching(/^error: another zmigrate runner is still working on this database/m),
    ]);
    expect(run.ended).toBe(false);
    await holder.commit();
    const result = await run.done;
    expect([result.code, result.stderr]).toEqual([0, expect.not.stringMatching(/^error:|^\s+at /m)]);
    expect(await phase()).toBe('expanded');
    expect(await shape(db)).toEqual(final.expanded);
    const q = (name: string) => (pg ? `"${name}"` : `\`${name}\``);
    const wrong = rowsOf<{ n: number | string }>(
      await sql(`SELECT COUNT(*) AS n FROM orders WHERE ${q('_zm_amount')} IS NULL OR ${q('_zm_amount')} <> amount`),
    );
    expect(Number(wrong[0].n)).toBe(0);
  });

  test.each(['expand', 'contract'] as const)(
    'session killed while %s waits for a lock the test holds: it reconnects and finishes (or stops cleanly and a rerun does)',
    async (command) => {
      await reset();
      if (command === 'contract') ok(await cli('expand'), 'expand');
      // Blocks zmigrate's DDL (ALTER TABLE, VALIDATE CONSTRAINT) until the test lets go.
      const holder = await hold(pg ? 'LOCK TABLE orders IN SHARE MODE' : 'SELECT id FROM orders LIMIT 1');
      const ours = await ourSessions();
      const run = startCli([command, '--dir', dir, '--lock-timeout', '10000'], env());
      let waiting: number[] = [];
      await until('zmigrate to wait for the lock', async () => {
        const sessions = await zmigrateSessions(ours);
        if (sessions.length === 0) return false;
        waiting = rowsOf<{ id: number }>(
          await sql(
            pg
              ? `select pid as id from pg_stat_activity where pid in (${sessions.map(() => '?').join(', ')}) and wait_event_type = 'Lock'`
              : `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ID IN (${sessions.map(() => '?').join(', ')}) AND STATE LIKE 'Waiting for table metadata lock'`,
            sessions,
          ),
        ).map((r) => Number(r.id));
        return waiting.length > 0;
      });
      await killSessions(waiting);
      await holder.commit();
      await retriedOrCleanFailure(await run.done, command);
      expect(await phase()).toBe(command === 'expand' ? 'expanded' : 'complete');
      expect(await shape(db)).toEqual(command === 'expand' ? final.expanded : final.contract);
    },
  );

  if (pg) {
    test('a runner killed in the middle of a long statement does not keep the runner lock until the statement ends', async () => {
      await reset();
      const slowDir = migrationsDir({
        '0001_slow.ts': migrationSource(["op.sql({ expand: 'SELECT pg_sleep(60)', rollback: 'SELECT 1' })"]),
      });
      const run = startCli(['expand', '--dir', slowDir], env());
      await run.waitForStderr(/^ {2}· raw SQL \(expand\)$/);
      const sleeping = async () =>
        rowsOf(
          await sql(
            "select pid from pg_stat_activity where application_name = 'zmigrate' and datname = current_database() and state = 'active' and query like 'SELECT pg_sleep%'",
          ),
        ).length;
      await until('the sleep to start', async () => (await sleeping()) > 0);
      expect((await kill9(run)).signal).toBe('SIGKILL');
      // The server checks that the client is still there (client_connection_check_interval) and ends the session.
      await until("the dead runner's session to end", async () => (await sleeping()) === 0);
      expect(await zmigrateSessions(new Set())).toEqual([]);
      const rollback = await runCli(['rollback', '--dir', slowDir], { env: env() });
      expect([rollback.code, rollback.stdout, rollback.stderr]).toEqual([
        0,
        'rolled back 0001_slow\n',
        expect.not.stringMatching(/waiting for another zmigrate runner|error/),
      ]);
    });
  }

  // ── raw SQL failing half-way ──────────────────────────────────────────

  describe('raw SQL whose second statement fails', () => {
    let sqlDir: string;
    const sqlCli = (...args: string[]) => runCli([...args, '--dir', sqlDir], { env: env() });
    const audit = (expand: string) =>
      migrationSource([
        `op.sql({ expand: ${JSON.stringify(expand)}, rollback: 'DROP TABLE IF EXISTS audit_log; DROP TABLE IF EXISTS audit' })`,
      ]);
    const status = async () => parseStatus(await sqlCli('status', '--json')).get('0001_audit')!;

    beforeEach(async () => {
      await reset();
      sqlDir = migrationsDir({});
    });

    test(`a mistake in the file: status shows the failed step, the edit is refused, rollback leaves ${pg ? 'nothing (it was one transaction)' : 'no half-applied DDL'}`, async () => {
      const before = await shape(db);
      writeFileSync(
        path.join(sqlDir, '0001_audit.ts'),
        audit('CREATE TABLE audit (id integer PRIMARY KEY); CREATE INDEX audit_missing_idx ON audit (no_such_column)'),
      );
      const failed = await sqlCli('expand');
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/^error: 0001_audit \(expand\): raw SQL \(expand\) failed: .*no_such_column/m);
      expect(failed.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
      expect(failed.stderr).not.toMatch(/^\s+at /m);
      expect(await status()).toMatchObject({ phase: 'expanding', error: expect.stringMatching(/no_such_column/) });
      // DDL is not transactional on MariaDB: the first statement took effect; on PostgreSQL the step rolled back whole.
      expect((await shape(db)).tables).toEqual(pg ? ['orders'] : ['audit', 'orders']);
      expect((await sqlCli('contract')).stderr).toMatch(
        /^error: 0001_audit is expanding; run zmigrate expand to finish it first \(it stopped with: .*no_such_column/m,
      );

      // Applied files must not be edited, even half-way: the way out is rollback.
      writeFileSync(
        path.join(sqlDir, '0001_audit.ts'),
        audit('CREATE TABLE IF NOT EXISTS audit (id integer PRIMARY KEY); CREATE INDEX audit_id_idx ON audit (id)'),
      );
      const edited = await sqlCli('expand');
      expect(edited.code).toBe(2);
      expect(edited.stderr).toMatch(/^error: .*0001_audit\.ts was changed after it was applied \(expanding\)/m);
      writeFileSync(
        path.join(sqlDir, '0001_audit.ts'),
        audit('CREATE TABLE audit (id integer PRIMARY KEY); CREATE INDEX audit_missing_idx ON audit (no_such_column)'),
      );
      const rollback = await sqlCli('rollback');
      expect([rollback.code, rollback.stdout]).toEqual([0, 'rolled back 0001_audit\n']);
      expect(await status()).toMatchObject({ phase: 'rolled back', error: null });
      expect(await shape(db)).toEqual(before);

      // Rolled back, the file may be fixed and expanded again.
      writeFileSync(
        path.join(sqlDir, '0001_audit.ts'),
        audit('CREATE TABLE IF NOT EXISTS audit (id integer PRIMARY KEY); CREATE INDEX audit_id_idx ON audit (id)'),
      );
      ok(await sqlCli('expand'), 'expand of the fixed file');
      expect(await status()).toMatchObject({ phase: 'expanded', error: null });
      expect((await shape(db)).indexes.audit).toContain('audit_id_idx');
    });

    test('a conflict in the database: once it is removed, a rerun of the repeatable SQL finishes the step', async () => {
      await sql('CREATE TABLE audit_log (id integer PRIMARY KEY)');
      writeFileSync(
        path.join(sqlDir, '0001_audit.ts'),
        audit(
          'CREATE TABLE IF NOT EXISTS audit (id integer PRIMARY KEY); CREATE TABLE audit_log (id integer PRIMARY KEY, audit_id integer)',
        ),
      );
      const failed = await sqlCli('expand');
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/^error: 0001_audit \(expand\): raw SQL \(expand\) failed: .*audit_log.* already exists/m);
      expect(await status()).toMatchObject({ phase: 'expanding', error: expect.stringMatching(/already exists/) });
      expect((await shape(db)).tables).toEqual(pg ? ['audit_log', 'orders'] : ['audit', 'audit_log', 'orders']);

      await sql('DROP TABLE audit_log');
      const rerun = await sqlCli('expand');
      expect([rerun.code, rerun.stdout]).toEqual([0, expect.stringContaining('expanded 0001_audit')]);
      expect(rerun.stderr).toContain('expand 0001_audit (resuming)');
      expect(await status()).toMatchObject({ phase: 'expanded', error: null });
      const state = await shape(db);
      expect(state.tables).toEqual(['audit', 'audit_log', 'orders']);
      expect(state.columns.filter((c) => c.startsWith('audit_log.'))).toEqual([
        `audit_log.id ${pg ? 'integer' : 'int(11)'} not null`,
        `audit_log.audit_id ${pg ? 'integer' : 'int(11)'}`,
      ]);
    });
  });
}
