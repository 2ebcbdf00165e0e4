/**
 * `npm run bench`: zmigrate's expand next to the alternatives, on real
 * servers, all measured in this one run so the ratios are fair on a shared,
 * noisy machine. Nothing here is a pass/fail test; it prints a table.
 *
 *   npm run bench -- --rows 100000        (default 1000000; 10000000 on request)
 *   npm run bench -- --engines postgres   (postgres,mysql by default)
 *
 * Servers: ZMIGRATE_TEST_PG_URL / ZMIGRATE_TEST_MYSQL_URL (as for the tests).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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
/** Extra options for the measured expand, e.g. --expand-options "--batch-time 50". */
const EXPAND_OPTIONS = arg('expand-options', '').split(' ').filter(Boolean);
/** Only the main comparison (expand, blocking UPDATE, pt-online-schema-change), for quick trials. */
const QUICK = args.includes('--quick');

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
 * Lets the server finish the background work the last step left (a checkpoint
 * on PostgreSQL, InnoDB's purge on MariaDB), so each contender starts from
 * the same quiet server instead of paying for the one before it.
 */
async function quiesce(engine: Engine, knex: Knex): Promise<void> {
  if (engine === 'postgres') {
    await knex.raw('CHECKPOINT').catch(() => undefined);
    return;
  }
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const [rows] = await knex.raw("SELECT `COUNT` AS n FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'");
    if (Number((rows as Array<{ n: number }>)[0]?.n ?? 0) < 1000) return;
    await new Promise((r) => setTimeout(r, 200));
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
): Promise<{ ms: number; worstWriteMs: number; writes: number; peakRssMb?: number }> {
  let running = true;
  let worst = 0;
  let writes = 0;
  const writer = (async () => {
    for (let i = 0; running; i++) {
      const started = Date.now();
      await knex(table)
        .where({ id: 1 + ((i * 7919) % Math.max(1, rows)) })
        .update({ customer: `w${i}` });
      worst = Math.max(worst, Date.now() - started);
      writes += 1;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
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
  child.stderr.on('data', (d) => (stderr += d));
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
  running = false;
  await writer;
  if (code !== 0) throw new Error(`zmigrate expand failed: ${stderr}`);
  return { ms, worstWriteMs: worst, writes, peakRssMb: peakKb === undefined ? undefined : Math.round(peakKb / 1024) };
}

/** The blocking baseline: one UPDATE that fills the widened column for every row. */
async function blockingUpdate(engine: Engine, knex: Knex, table: string): Promise<number> {
  await knex.raw(
    engine === 'postgres' ? `ALTER TABLE ${table} ADD COLUMN amount_new bigint` : `ALTER TABLE ${table} ADD COLUMN amount_new bigint`,
  );
  const { ms } = await timed(() => knex.raw(`UPDATE ${table} SET amount_new = amount`));
  return ms;
}

function ptOsc(url: string, database: string, table: string): number | undefined {
  const found = spawnSync('which', ['pt-online-schema-change']);
  if (found.status !== 0) return undefined;
  const u = new URL(url);
  const dsn = `h=${u.hostname},P=${u.port || 3306},u=${decodeURIComponent(u.username)}${u.password ? `,p=${decodeURIComponent(u.password)}` : ''},D=${database},t=${table}`;
  const started = Date.now();
  execFileSync(
    'pt-online-schema-change',
    ['--alter', 'MODIFY amount bigint', '--execute', '--no-check-replication-filters', '--recursion-method=none', dsn],
    { stdio: 'ignore' },
  );
  return Date.now() - started;
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
 * Throughput at 100k rows against the main run's: each is rows over the time
 * an expand takes beyond that of the same migration on an empty table (process
 * start, DDL, version schema), so only the per-row work is compared. The
 * empty and 100k-row expands are the median of three runs each.
 */
async function scaling(engine: Engine, mainMs: number): Promise<Array<Omit<Row, 'engine'>>> {
  if (ROWS <= SMALL) return [];
  // The median of three: at 100k rows the time beyond the fixed cost is short, and one noisy run would swing the rate.
  const timedOn = async (rows: number) => {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) runs.push((await expandElsewhere(engine, rows)).ms);
    return median(runs);
  };
  const fixed = await timedOn(0);
  const rate = (rows: number, ms: number) => rows / (Math.max(1, ms - fixed) / 1000);
  const small = rate(SMALL, await timedOn(SMALL));
  const main = rate(ROWS, mainMs);
  const count = (n: number) => Math.round(n).toLocaleString('en');
  return [
    { measure: `fixed cost of an expand (empty table)`, value: `${(fixed / 1000).toFixed(2)} s` },
    { measure: `throughput beyond it, ${count(SMALL)} rows`, value: `${count(small)} rows/s` },
    {
      measure: `throughput beyond it, ${count(ROWS)} rows`,
      value: `${count(main)} rows/s`,
      ratio: `${((main / small - 1) * 100).toFixed(0)} %`,
      target: '±20 %',
    },
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function benchEngine(engine: Engine): Promise<void> {
  const label = engine === 'postgres' ? 'PostgreSQL' : 'MariaDB';
  const db = await freshDatabase(engine, 'zmigrate_bench');
  try {
    await fill(engine, db.knex, 'orders_zm', ROWS);
    await fill(engine, db.knex, 'orders_update', ROWS);

    await quiesce(engine, db.knex);
    const expand = await zmigrateExpand(db.url, db.knex, 'orders_zm', ROWS, EXPAND_OPTIONS);
    await quiesce(engine, db.knex);
    const update = await blockingUpdate(engine, db.knex, 'orders_update');
    const serial = QUICK ? undefined : await expandElsewhere(engine, ROWS, ['--jobs', '1']);
    results.push({
      engine: label,
      measure: `zmigrate expand, ${ROWS.toLocaleString('en')} rows`,
      value: `${(expand.ms / 1000).toFixed(2)} s`,
    });
    results.push({
      engine: label,
      measure: 'single blocking UPDATE',
      value: `${(update / 1000).toFixed(2)} s`,
      ratio: `${(expand.ms / update).toFixed(2)}×`,
      target: engine === 'postgres' ? '≤ 1.15×' : undefined,
    });
    if (serial) {
      results.push({
        engine: label,
        measure: 'zmigrate expand --jobs 1 (one batch at a time)',
        value: `${(serial.ms / 1000).toFixed(2)} s`,
        ratio: `${(serial.ms / update).toFixed(2)}×`,
      });
      results.push({ engine: label, measure: `worst app write during it (${serial.writes} writes)`, value: `${serial.worstWriteMs} ms` });
    }
    results.push({ engine: label, measure: 'throughput', value: `${Math.round(ROWS / (expand.ms / 1000)).toLocaleString('en')} rows/s` });
    results.push({
      engine: label,
      measure: `worst app write during expand (${expand.writes} writes)`,
      value: `${expand.worstWriteMs} ms`,
      target: '≤ 100 ms',
    });
    results.push({
      engine: label,
      measure: 'peak RSS of the zmigrate process',
      value: expand.peakRssMb === undefined ? 'n/a (no /proc)' : `${expand.peakRssMb} MB`,
      target: '< 150 MB',
    });

    if (!QUICK) for (const r of await scaling(engine, expand.ms)) results.push({ engine: label, ...r });

    if (engine === 'mysql') {
      await fill(engine, db.knex, 'orders_pt', ROWS);
      await quiesce(engine, db.knex);
      const pt = ptOsc(serverUrl(engine), 'zmigrate_bench', 'orders_pt');
      results.push(
        pt === undefined
          ? { engine: label, measure: 'pt-online-schema-change', value: 'not installed (apt-get install percona-toolkit)' }
          : {
              engine: label,
              measure: 'pt-online-schema-change',
              value: `${(pt / 1000).toFixed(2)} s`,
              ratio: `${(expand.ms / pt).toFixed(2)}×`,
              target: '≤ 1.0×',
            },
      );
    }
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
  const widths = [10, 48, 44, 12, 10];
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
