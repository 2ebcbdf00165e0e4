/**
 * `npm run bench`: zmigrate's expand next to the alternatives, on real
 * servers, all measured in this one run so the ratios are fair on a shared,
 * noisy machine. Nothing here is a pass/fail test; it prints a table.
 *
 *   npm run bench -- --rows 100000        (default 1000000; 10000000 on request)
 *   npm run bench -- --engines postgres   (postgres,mysql by default)
 *   npm run bench -- --rounds 3           (zmigrate against the blocking UPDATE on PostgreSQL and
 *                                          pt-online-schema-change on MariaDB; 5 by default)
 *   npm run bench -- --quick              (only the main comparison, one round)
 *   npm run bench -- --expand-options "--jobs 1"   (options for each of zmigrate's expands against them)
 *
 * Servers: ZMIGRATE_TEST_PG_URL / ZMIGRATE_TEST_MYSQL_URL (as for the tests).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { mysqlConnection } from '../src/dialects/url';

type Engine = 'postgres' | 'mysql';

interface Row {
  engine: string;
  measure: string;
  value: string;
  ratio?: string;
  target?: string;
}

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROWS = Number(arg('rows', '1000000'));
const ENGINES = arg('engines', 'postgres,mysql').split(',') as Engine[];
const TRIGGER_WRITES = Number(arg('writes', '2000'));
/** Extra options for zmigrate's measured expands (the main run and every round), e.g. --expand-options "--jobs 1". */
const EXPAND_OPTIONS = arg('expand-options', '').split(' ').filter(Boolean);
/** Only the main comparison (expand, blocking UPDATE, pt-online-schema-change), for quick trials. */
const QUICK = args.includes('--quick');
/** Rounds of zmigrate against the blocking UPDATE (PostgreSQL) or pt-online-schema-change (MariaDB), alternating, compared by their medians. */
const ROUNDS = Math.max(1, Number(arg('rounds', QUICK ? '1' : '5')));

const results: Row[] = [];

function serverUrl(engine: Engine): string {
  const url = engine === 'postgres' ? process.env.ZMIGRATE_TEST_PG_URL : process.env.ZMIGRATE_TEST_MYSQL_URL;
  if (!url)
    throw new Error(
      `set ${engine === 'postgres' ? 'ZMIGRATE_TEST_PG_URL' : 'ZMIGRATE_TEST_MYSQL_URL'} to a server the benchmark may create databases on`,
    );
  return url;
}

function knexFor(engine: Engine, url: string, database?: string): Knex {
  const u = new URL(url);
  if (database) u.pathname = `/${database}`;
  if (engine === 'postgres') return knexFactory({ client: 'pg', connection: u.toString(), pool: { min: 0, max: 4 } });
  return knexFactory({
    client: 'mysql2',
    connection: {
      ...mysqlConnection(u),
      database: database ?? u.pathname.slice(1),
    },
    pool: { min: 0, max: 4 },
  });
}

async function freshDatabase(engine: Engine, name: string): Promise<{ url: string; knex: Knex }> {
  const admin = knexFor(engine, serverUrl(engine));
  const q = engine === 'postgres' ? `"${name}"` : `\`${name}\``;
  if (engine === 'postgres') await admin.raw(`DROP DATABASE IF EXISTS ${q} WITH (FORCE)`);
  else {
    const [rows] = await admin.raw('SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ? OR SCHEMA_NAME LIKE ?', [
      name,
      `${name}\\_%`,
    ]);
    for (const r of rows as Array<{ s: string }>) await admin.raw(`DROP DATABASE \`${r.s}\``);
  }
  await admin.raw(`CREATE DATABASE ${q}`);
  await admin.destroy();
  const url = new URL(serverUrl(engine));
  url.pathname = `/${name}`;
  return { url: url.toString(), knex: knexFor(engine, serverUrl(engine), name) };
}

async function dropDatabase(engine: Engine, name: string): Promise<void> {
  const admin = knexFor(engine, serverUrl(engine));
  try {
    if (engine === 'postgres') await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    else for (const db of [name, `${name}_0001_widen_amount`]) await admin.raw(`DROP DATABASE IF EXISTS \`${db}\``);
  } finally {
    await admin.destroy();
  }
}

async function fill(engine: Engine, knex: Knex, table: string, rows: number): Promise<void> {
  await knex.raw(`CREATE TABLE ${table} (id bigint PRIMARY KEY, customer varchar(40) NOT NULL, amount integer NOT NULL)`);
  if (engine === 'postgres') {
    await knex.raw(`INSERT INTO ${table} SELECT g, 'customer ' || g, g % 100000 FROM generate_series(1, ?) g`, [rows]);
    await knex.raw(`VACUUM ANALYZE ${table}`);
  } else {
    for (let start = 1; start <= rows; start += 1_000_000) {
      const end = Math.min(rows, start + 999_999);
      await knex.raw(`INSERT INTO ${table} SELECT seq, CONCAT('customer ', seq), seq % 100000 FROM seq_${start}_to_${end}`);
    }
    await knex.raw(`ANALYZE TABLE ${table}`);
  }
}

/**
 * Lets the server finish the background work the last step left, so each
 * contender starts from the same quiet server instead of paying for the one
 * before it. On PostgreSQL: the vacuum of the dead rows an expand or UPDATE
 * left (a million of them, which autovacuum would otherwise take on within a
 * minute, in the middle of whatever runs next), then a checkpoint. On
 * MariaDB: InnoDB's purge, and the flush of the dirty pages a table fill
 * leaves in the buffer pool (half of a default pool after 1M rows, written
 * out over some ten seconds, during which whoever runs next waits for free
 * pages).
 */
async function quiesce(engine: Engine, knex: Knex): Promise<void> {
  if (engine === 'postgres') {
    await knex.raw('VACUUM');
    await knex.raw('CHECKPOINT').catch(() => undefined);
    return;
  }
  const read = async () => {
    const [rows] = await knex.raw(
      `SELECT (SELECT \`COUNT\` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len') AS history,
              (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_DIRTY') AS dirty,
              (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_TOTAL') AS pages`,
    );
    const [row] = rows as Array<{ history: number; dirty: string; pages: string }>;
    return { history: Number(row?.history ?? 0), dirty: Number(row?.dirty ?? 0), pages: Number(row?.pages ?? 0) };
  };
  // Done once purge has caught up and the dirty pages are few, or no fewer than two seconds ago (the page
  // cleaner leaves some behind when idle).
  const seen: number[] = [];
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const { history, dirty, pages } = await read();
    seen.push(dirty);
    const stalled = seen.length > 8 && dirty >= seen[seen.length - 9];
    if (history < 1000 && (dirty <= pages * 0.05 || stalled)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await work();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value };
}

function migrationsFor(table: string): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'zmigrate-bench-')), 'migrations');
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, '0001_widen_amount.ts'),
    `import { defineMigration, op } from 'zmigrate';\nexport default defineMigration({ operations: [op.alterColumn('${table}', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })] });\n`,
  );
  return dir;
}

/** What the application saw during a run: its worst write, how many it made, and how many failed. */
interface Written {
  worstWriteMs: number;
  writes: number;
  /** Writes the server refused (a lock wait timeout behind a blocking statement), and the first error. */
  failed: number;
  error?: string;
  /** When the worst write began (process.hrtime), to tell which step of a run it waited in. */
  worstAt?: bigint;
  /** That step, where the run prints its steps. */
  worstDuring?: string;
}

/**
 * The application: an UPDATE of a row spread over the table every 10 ms, its
 * worst latency recorded. It runs during every contender's run alike, as a
 * busy table would see it, so none is timed on a quieter server than another.
 * A write that fails (MariaDB gives up on a row lock after 50 s) is counted
 * and the application goes on, as one would.
 */
function startWriter(knex: Knex, table: string, rows: number): { stop(): Promise<Written> } {
  let running = true;
  const written: Written = { worstWriteMs: 0, writes: 0, failed: 0 };
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const started = Date.now();
      try {
        await knex(table)
          .where({ id: 1 + ((i * 7919) % Math.max(1, rows)) })
          .update({ customer: `w${i}` });
      } catch (error) {
        written.failed += 1;
        written.error ??= (error as { code?: string }).code ?? String(error);
      }
      const tookMs = Date.now() - started;
      if (tookMs > written.worstWriteMs)
        [written.worstWriteMs, written.worstAt] = [tookMs, process.hrtime.bigint() - BigInt(tookMs) * 1_000_000n];
      written.writes += 1;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return written;
    },
  };
}

/** The table row for a run's application writes. */
function writesRow(engine: string, when: string, w: Written, target?: string): Row {
  const failed = w.failed > 0 ? `, ${w.failed} failed` : '';
  return {
    engine,
    measure: `worst app write ${when} (${w.writes} writes${failed})`,
    value: `${w.worstWriteMs} ms${w.error ? ` (${w.error})` : ''}${w.worstDuring ? `, in '${w.worstDuring}'` : ''}`,
    target,
  };
}

/**
 * zmigrate expand as users run it (the CLI, its own process, whose peak RSS
 * is read from /proc), with a concurrent writer recording its worst latency.
 */
async function zmigrateExpand(
  url: string,
  knex: Knex,
  table: string,
  rows = ROWS,
  options: string[] = [],
): Promise<{ ms: number; rowWorkMs: number; written: Written; peakRssMb?: number }> {
  const writer = startWriter(knex, table, rows);
  const started = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [path.resolve(__dirname, '..', 'bin', 'zmigrate.js'), 'expand', '--dir', migrationsFor(table), ...options],
    {
      env: { ...process.env, ZMIGRATE_DATABASE_URL: url, NO_COLOR: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  /** When each step line came, from the start, to time the steps that walk the rows. */
  const stepAt: Array<{ ms: number; line: string }> = [];
  let partial = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const lines = (partial + String(d)).split('\n');
    partial = lines.pop()!;
    for (const line of lines) stepAt.push({ ms, line });
  });
  let peakKb: number | undefined;
  const poll = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peakKb = Math.max(peakKb ?? 0, Number(hwm[1]));
    } catch {
      // the process has ended
    }
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(poll);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const written = await writer.stop();
  if (code !== 0) throw new Error(`zmigrate expand failed: ${stderr}`);
  if (written.worstAt !== undefined) {
    // The step line printed last before the worst write began (progress lines are not steps).
    const worstMs = Number(written.worstAt - started) / 1e6;
    const step = stepAt.filter((s) => s.ms <= worstMs && /^ {2}· /.test(s.line) && !/^ {2}· \S+ \S+: [\d,]+ /.test(s.line)).at(-1);
    written.worstDuring = step ? step.line.slice(4) : 'start';
  }
  // The backfill (or copy) runs from its step line to the last line that says a walk is done (on PostgreSQL
  // the redo of the rows updated meanwhile, on MariaDB the catch-up), the verification from its step line to
  // the line saying every row holds: the DDL and bookkeeping around them are left out.
  const at = (pattern: RegExp) => stepAt.find((s) => pattern.test(s.line))?.ms;
  const last = (pattern: RegExp) => stepAt.filter((s) => pattern.test(s.line)).at(-1)?.ms;
  const span = (from: RegExp, to: RegExp, end = at) => {
    const [start, stop] = [at(from), end(to)];
    return start !== undefined && stop !== undefined ? stop - start : undefined;
  };
  const walk = span(/^ {2}· (backfill|copy) /, /^ {2}· backfill \S+: [\d,]+ .*, done in /, last);
  const verify = span(/^ {2}· verify /, /^ {2}· verified .* on every row in /);
  if (rows > 0 && (walk === undefined || verify === undefined))
    throw new Error(`cannot find the backfill and verification steps in zmigrate's output:\n${stderr}`);
  return {
    ms,
    rowWorkMs: (walk ?? 0) + (verify ?? 0),
    written,
    peakRssMb: peakKb === undefined ? undefined : Math.round(peakKb / 1024),
  };
}

/**
 * The same writer for `ms` with no migration running, on a settled server:
 * how slow this machine's writes get on their own, to read the worst write
 * during an expand against.
 */
async function idleWrites(engine: Engine, knex: Knex, table: string, ms: number): Promise<Written> {
  await quiesce(engine, knex);
  const writer = startWriter(knex, table, ROWS);
  await new Promise((r) => setTimeout(r, ms));
  return writer.stop();
}

/** The blocking baseline: one UPDATE that fills the widened column for every row, under the same writer. */
async function blockingUpdate(knex: Knex, table: string): Promise<{ ms: number; written: Written }> {
  await knex.raw(`ALTER TABLE ${table} ADD COLUMN amount_new bigint`);
  const writer = startWriter(knex, table, ROWS);
  const { ms } = await timed(() => knex.raw(`UPDATE ${table} SET amount_new = amount`));
  return { ms, written: await writer.stop() };
}

/** pt-online-schema-change's run of the same change, under the same writer as zmigrate's; undefined when not installed. */
async function ptOsc(url: string, knex: Knex, database: string, table: string): Promise<{ ms: number; written: Written } | undefined> {
  const found = spawnSync('which', ['pt-online-schema-change']);
  if (found.status !== 0) return undefined;
  const u = new URL(url);
  const dsn = `h=${u.hostname},P=${u.port || 3306},u=${decodeURIComponent(u.username)}${u.password ? `,p=${decodeURIComponent(u.password)}` : ''},D=${database},t=${table}`;
  const writer = startWriter(knex, table, ROWS);
  const started = Date.now();
  const child = spawn(
    'pt-online-schema-change',
    ['--alter', 'MODIFY amount bigint', '--execute', '--no-check-replication-filters', '--recursion-method=none', dsn],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const ms = Date.now() - started;
  const written = await writer.stop();
  if (code !== 0) throw new Error(`pt-online-schema-change failed: ${stderr}`);
  return { ms, written };
}

/** Single-row inserts per second, with and without the dual-write triggers. */
async function insertRate(knex: Knex, table: string, firstId: number): Promise<number> {
  const { ms } = await timed(async () => {
    for (let i = 0; i < TRIGGER_WRITES; i++) await knex(table).insert({ id: firstId + i, customer: 'bench', amount: i });
  });
  return TRIGGER_WRITES / (ms / 1000);
}

/** An expand of `rows` rows in a database of its own, as zmigrateExpand measures it. */
async function expandElsewhere(engine: Engine, rows: number, options: string[] = []): ReturnType<typeof zmigrateExpand> {
  const name = `zmigrate_bench_${rows}`;
  const db = await freshDatabase(engine, name);
  try {
    await fill(engine, db.knex, 'orders_zm', rows);
    await quiesce(engine, db.knex);
    return await zmigrateExpand(db.url, db.knex, 'orders_zm', rows, options);
  } finally {
    await db.knex.destroy();
    await dropDatabase(engine, name);
  }
}

const SMALL = 100_000;
/**
 * 100k expands for the throughput, compared by their median: a 100k walk
 * takes a few hundred ms, which one flush of the server's pages moves by half
 * (three gave 305k rows/s on MariaDB in one run of 2026-12-05 and 469k in
 * the one before). Up to 1M rows, one runs right before each of zmigrate's
 * full-size runs (SmallRuns.beside), so both sizes are timed on the machine
 * as it is at the time: its pace drifted within a run (PostgreSQL's 1M
 * rounds at 307k, then 394k rows/s, in one run of 2026-12-05, where the
 * 100k runs, made first, gave 297k). Bigger tables leave MariaDB purging and
 * flushing pages for longer than `quiesce` waits (after 10M-row runs the
 * 100k runs came out a third slower), so there SMALL_RUNS are made first,
 * before the big tables are written.
 */
const SMALL_RUNS = 5;
const INTERLEAVED = ROWS <= 1_000_000;

/** The time of the two steps that walk every row, the backfill (or the copy) and the verification, in each 100k expand. */
class SmallRuns {
  readonly ms: number[] = [];

  constructor(private readonly engine: Engine) {}

  private get wanted(): boolean {
    return !QUICK && ROWS > SMALL;
  }

  /** Above 1M rows: all of them, first. */
  async first(): Promise<void> {
    if (this.wanted && !INTERLEAVED) for (let i = 0; i < SMALL_RUNS; i++) await this.run();
  }

  /** Up to 1M rows: one, before a full-size run of zmigrate's. */
  async beside(): Promise<void> {
    if (this.wanted && INTERLEAVED) await this.run();
  }

  private async run(): Promise<void> {
    this.ms.push((await expandElsewhere(this.engine, SMALL)).rowWorkMs);
  }
}

/**
 * Throughput at 100k rows against the full size: rows over the time of the
 * two steps that walk every row, each timed from its line in the CLI's output
 * to the line that says it is done. Process start and the DDL around them
 * cost the same at any size and stay out of it. Each side is a median: of
 * the 100k expands, and of zmigrate's rounds at full size (the main run and
 * the rounds against the other contender), since one run alone swings with
 * the machine (2.81 s against 1.40-1.73 s for the other four, in one 1M run
 * on MariaDB).
 */
function scaling(smallMs: number[], bigMs: number[]): Array<Omit<Row, 'engine'>> {
  const rate = (rows: number, ms: number) => rows / (Math.max(1, ms) / 1000);
  const small = rate(SMALL, median(smallMs));
  const big = rate(ROWS, median(bigMs));
  const count = (n: number) => Math.round(n).toLocaleString('en');
  const each = (rows: number, runs: number[]) => runs.map((ms) => `${Math.round(rate(rows, ms) / 1000)}k`).join(', ');
  return [
    { measure: `backfill + verify throughput, ${count(SMALL)} rows`, value: `${count(small)} rows/s` },
    {
      measure: `backfill + verify throughput, ${count(ROWS)} rows`,
      value: `${count(big)} rows/s`,
      ratio: `${((big / small - 1) * 100).toFixed(0)} %`,
      target: '±20 %',
    },
    { measure: `backfill + verify rows/s, ${count(SMALL)} rows, each run`, value: each(SMALL, smallMs) },
    { measure: `backfill + verify rows/s, ${count(ROWS)} rows, each round`, value: each(ROWS, bigMs) },
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * zmigrate's expand against pt-online-schema-change's of the same change, in
 * ROUNDS alternating rounds on fresh tables (the main run is zmigrate's first
 * round), compared by their medians: one round each swings with the machine.
 */
async function againstPtOsc(knex: Knex, first: Expanded, small: SmallRuns): Promise<Rounds> {
  const database = 'zmigrate_bench';
  const zm: number[] = [first.ms];
  const rowWork: number[] = [first.rowWorkMs];
  const pt: number[] = [];
  const ptWritten: Written = { worstWriteMs: 0, writes: 0, failed: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const table = `orders_pt${round}`;
    await fill('mysql', knex, table, ROWS);
    await quiesce('mysql', knex);
    const run = await ptOsc(serverUrl('mysql'), knex, database, table);
    if (run === undefined)
      return { rows: [{ measure: 'pt-online-schema-change', value: 'not installed (apt-get install percona-toolkit)' }], rowWork };
    pt.push(run.ms);
    ptWritten.worstWriteMs = Math.max(ptWritten.worstWriteMs, run.written.worstWriteMs);
    ptWritten.writes += run.written.writes;
    ptWritten.failed += run.written.failed;
    ptWritten.error ??= run.written.error;
    await knex.raw(`DROP TABLE ${table}`);
    if (round + 1 < ROUNDS) {
      await small.beside();
      const expanded = await expandElsewhere('mysql', ROWS, EXPAND_OPTIONS);
      zm.push(expanded.ms);
      rowWork.push(expanded.rowWorkMs);
    }
  }
  const [zmRounds, ptRounds, ratio] = roundsRows('pt-online-schema-change', zm, pt, '≤ 1.0×');
  return { rows: [zmRounds, ptRounds, writesRow('MariaDB', 'during them', ptWritten), ratio], rowWork };
}

/** What zmigrateExpand measured of one expand. */
type Expanded = Awaited<ReturnType<typeof zmigrateExpand>>;

/** The rows of alternating rounds, and the time each of zmigrate's rounds spent walking the rows (for the throughput). */
interface Rounds {
  rows: Array<Omit<Row, 'engine'>>;
  rowWork: number[];
}

/** The rows of alternating rounds: each side's times, then the ratio of their medians against the target. */
function roundsRows(other: string, zm: number[], theirs: number[], target: string): Array<Omit<Row, 'engine'>> {
  const seconds = (values: number[]) => values.map((v) => (v / 1000).toFixed(2)).join(', ');
  return [
    { measure: `zmigrate expand, each round`, value: `${seconds(zm)} s` },
    { measure: `${other}, each round`, value: `${seconds(theirs)} s` },
    {
      measure: `zmigrate / ${other} (medians)`,
      value: `${(median(zm) / 1000).toFixed(2)} s / ${(median(theirs) / 1000).toFixed(2)} s`,
      ratio: `${(median(zm) / median(theirs)).toFixed(2)}×`,
      target,
    },
  ];
}

/**
 * PostgreSQL: zmigrate's expand against the single blocking UPDATE in ROUNDS
 * alternating rounds on fresh tables (the main run is the first round of
 * each), compared by their medians, as against pt-online-schema-change.
 * Every other round runs the expand first: whichever ran second was the
 * slower for it (1M rows, this project's machine: the expand 3.6 s first,
 * 4.0-4.1 s second; the UPDATE 2.6-2.8 s either way), so a fixed order
 * would weigh on one side only.
 */
async function againstUpdate(knex: Knex, first: Expanded, updateMs: number, small: SmallRuns): Promise<Rounds> {
  const zm: number[] = [first.ms];
  const rowWork: number[] = [first.rowWorkMs];
  const update: number[] = [updateMs];
  const expand = async () => {
    await small.beside();
    const expanded = await expandElsewhere('postgres', ROWS, EXPAND_OPTIONS);
    zm.push(expanded.ms);
    rowWork.push(expanded.rowWorkMs);
  };
  for (let round = 1; round < ROUNDS; round++) {
    const expandFirst = round % 2 === 1;
    if (expandFirst) await expand();
    const table = `orders_update${round}`;
    await fill('postgres', knex, table, ROWS);
    await quiesce('postgres', knex);
    update.push((await blockingUpdate(knex, table)).ms);
    await knex.raw(`DROP TABLE ${table}`);
    if (!expandFirst) await expand();
  }
  return { rows: roundsRows('single blocking UPDATE', zm, update, '≤ 1.15×'), rowWork };
}

async function benchEngine(engine: Engine): Promise<void> {
  const label = engine === 'postgres' ? 'PostgreSQL' : 'MariaDB';
  const small = new SmallRuns(engine);
  await small.first();
  const db = await freshDatabase(engine, 'zmigrate_bench');
  try {
    // The 100k run goes first: the dead rows the blocking UPDATE leaves here would be autovacuumed in its middle (see below).
    await small.beside();
    // Each contender runs on the table filled just before it, as every later round does. Filled first, a table
    // is partly out of the buffer pool by the time the second is filled (a 1M-row table takes 63 MB on
    // MariaDB, half of a default 128 MB pool, and InnoDB reads past the OS cache), so its run reads from disk.
    await fill(engine, db.knex, 'orders_update', ROWS);
    await quiesce(engine, db.knex);
    const update = await blockingUpdate(db.knex, 'orders_update');
    await fill(engine, db.knex, 'orders_zm', ROWS);
    await quiesce(engine, db.knex);
    const expand = await zmigrateExpand(db.url, db.knex, 'orders_zm', ROWS, EXPAND_OPTIONS);
    // The next runs are in other databases, which their quiesce does not vacuum on PostgreSQL: the dead rows
    // the expand left here would be autovacuumed in the middle of them (at 10M, an application write waited
    // 15 s behind that I/O during the --jobs 1 run).
    if (!QUICK) await quiesce(engine, db.knex);
    // One session instead of the default two, as pt-online-schema-change and gh-ost run: what the second one gains.
    const other = QUICK ? undefined : await expandElsewhere(engine, ROWS, ['--jobs', '1']);
    results.push({
      engine: label,
      measure: `zmigrate expand, ${ROWS.toLocaleString('en')} rows`,
      value: `${(expand.ms / 1000).toFixed(2)} s`,
    });
    results.push({
      engine: label,
      measure: 'single blocking UPDATE',
      value: `${(update.ms / 1000).toFixed(2)} s`,
      ratio: `${(expand.ms / update.ms).toFixed(2)}×`,
    });
    results.push(writesRow(label, 'during it', update.written));
    if (other) {
      results.push({
        engine: label,
        measure: 'zmigrate expand --jobs 1 (one batch at a time)',
        value: `${(other.ms / 1000).toFixed(2)} s`,
        ratio: `${(other.ms / update.ms).toFixed(2)}×`,
      });
      results.push(writesRow(label, 'during it', other.written));
    }
    results.push({ engine: label, measure: 'throughput', value: `${Math.round(ROWS / (expand.ms / 1000)).toLocaleString('en')} rows/s` });
    results.push(writesRow(label, 'during expand', expand.written, '≤ 100 ms'));
    if (!QUICK) results.push(writesRow(label, 'as long, no migration', await idleWrites(engine, db.knex, 'orders_update', expand.ms)));
    results.push({
      engine: label,
      measure: 'peak RSS of the zmigrate process',
      value: expand.peakRssMb === undefined ? 'n/a (no /proc)' : `${expand.peakRssMb} MB`,
      target: '< 150 MB',
    });

    const rounds = engine === 'mysql' ? await againstPtOsc(db.knex, expand, small) : await againstUpdate(db.knex, expand, update.ms, small);
    if (small.ms.length > 0) for (const r of scaling(small.ms, rounds.rowWork)) results.push({ engine: label, ...r });
    for (const r of rounds.rows) results.push({ engine: label, ...r });
    if (QUICK) return;
    // Alternating rounds on the two tables, so background work (a dropped table being purged) weighs on both alike.
    const bases: number[] = [];
    const triggered: number[] = [];
    for (let round = 0; round < 3; round++) {
      bases.push(await insertRate(db.knex, 'orders_update', ROWS + 1 + round * TRIGGER_WRITES));
      triggered.push(await insertRate(db.knex, 'orders_zm', ROWS + 1 + round * TRIGGER_WRITES));
    }
    const base = median(bases);
    const withTriggers = median(triggered);
    results.push({ engine: label, measure: 'app inserts/s without triggers', value: base.toFixed(0) });
    results.push({
      engine: label,
      measure: 'app inserts/s with dual-write triggers',
      value: withTriggers.toFixed(0),
      ratio: `${(base / withTriggers).toFixed(2)}× slower`,
      target: '≤ 1.5×',
    });
  } finally {
    await db.knex.destroy();
    await dropDatabase(engine, 'zmigrate_bench');
  }
}

async function main(): Promise<void> {
  for (const engine of ENGINES) await benchEngine(engine);
  const widths = [10, 56, 40, 12, 10];
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join(' ')
      .trimEnd();
  console.log(line(['engine', 'measure', 'value', 'ratio', 'target']));
  for (const r of results) console.log(line([r.engine, r.measure, r.value, r.ratio ?? '', r.target ?? '']));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
