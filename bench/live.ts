/**
 * `npm run bench:live`: a live deploy, simulated. Old-app clients (base
 * tables, old names) and new-app clients (latest version schema, new names)
 * issue inserts, updates, deletes and reads through the full cycle
 * expand (with backfill) → both live → contract, and expand → rollback, on
 * PostgreSQL and MariaDB. Every acknowledged write goes into an oracle; at
 * the end the table must be exactly what the oracle says.
 *
 *   npm run bench:live -- --seconds 8 --clients 4 --rows 20000 --engines postgres,mysql --database zmigrate_live
 *
 * It drops and makes anew the database named by --database (and, on MariaDB,
 * its version databases), so two runs at once need a name each.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { mysqlConnection } from '../src/dialects/url';
import { knexConfigForVersion } from '../src';

type Engine = 'postgres' | 'mysql';
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const SECONDS = Number(arg('seconds', '8'));
const CLIENTS = Number(arg('clients', '4'));
const ROWS = Number(arg('rows', '20000'));
const ENGINES = arg('engines', 'postgres,mysql').split(',') as Engine[];
const DB = arg('database', 'zmigrate_live');
// Named in DDL and as a prefix of MariaDB's version databases (64 characters at most).
if (!/^[a-z_][a-z0-9_]{0,40}$/.test(DB)) {
  console.error(`--database must be lower-case letters, digits and underscores, 41 at most (got ${JSON.stringify(DB)})`);
  process.exit(2);
}
const SCHEMA_SUFFIX = '0002_reshape';

/** What the acknowledged writes imply for one row (old units), or undefined once deleted. */
interface Expected {
  owner: string;
  balance: number;
  /** Given by the new app when it wrote the row last; else derived by `up`. */
  tier?: number;
}
const tierOf = (balance: number) => (balance >= 500 ? 2 : 1);

class Stats {
  readonly latencies: number[] = [];
  requests = 0;
  failures: string[] = [];
  wrongReads = 0;
  retries = 0;
  record(ms: number) {
    this.requests += 1;
    this.latencies.push(ms);
  }
  percentile(p: number): number {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }
}

/** The base connection of the database (old app); the new app's is made with zmigrate's version helper. */
function configFor(engine: Engine, database: string): Knex.Config {
  const raw = engine === 'postgres' ? process.env.ZMIGRATE_TEST_PG_URL : process.env.ZMIGRATE_TEST_MYSQL_URL;
  if (!raw) throw new Error(`set ${engine === 'postgres' ? 'ZMIGRATE_TEST_PG_URL' : 'ZMIGRATE_TEST_MYSQL_URL'}`);
  const u = new URL(raw);
  if (engine === 'postgres') {
    u.pathname = `/${DB}`;
    return { client: 'pg', connection: u.toString(), pool: { min: 0, max: CLIENTS + 2 } };
  }
  return {
    client: 'mysql2',
    connection: {
      ...mysqlConnection(u),
      database,
    },
    pool: { min: 0, max: CLIENTS + 2 },
  };
}

function knexFor(engine: Engine, database: string): Knex {
  return knexFactory(configFor(engine, database));
}

function urlFor(engine: Engine): string {
  const u = new URL((engine === 'postgres' ? process.env.ZMIGRATE_TEST_PG_URL : process.env.ZMIGRATE_TEST_MYSQL_URL)!);
  u.pathname = `/${DB}`;
  return u.toString();
}

/** Drops the benchmark's database (and its version databases), then makes it anew unless `recreate` is false. */
async function resetDatabase(engine: Engine, recreate = true): Promise<void> {
  const admin = knexFor(engine, engine === 'postgres' ? 'public' : 'mysql');
  if (engine === 'postgres') {
    const u = new URL(process.env.ZMIGRATE_TEST_PG_URL!);
    const server = knexFactory({ client: 'pg', connection: u.toString() });
    await server.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
    if (recreate) await server.raw(`CREATE DATABASE "${DB}"`);
    await server.destroy();
  } else {
    for (const name of [DB, `${DB}_0001_accounts`, `${DB}_${SCHEMA_SUFFIX}`]) await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
    if (recreate) await admin.raw(`CREATE DATABASE \`${DB}\``);
  }
  await admin.destroy();
}

function migrations(): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'zmigrate-live-')), 'migrations');
  mkdirSync(dir);
  const file = (name: string, ops: string[]) =>
    writeFileSync(
      path.join(dir, name),
      `import { defineMigration, op } from 'zmigrate';\nexport default defineMigration({ operations: [\n  ${ops.join(',\n  ')},\n] });\n`,
    );
  file('0001_accounts.ts', [
    "op.createTable('accounts', { columns: { id: { type: 'bigint', primaryKey: true }, owner: { type: 'varchar(60)', nullable: false }, balance: { type: 'integer', nullable: false } } })",
  ]);
  return dir;
}

function addReshape(dir: string): void {
  writeFileSync(
    path.join(dir, `${SCHEMA_SUFFIX}.ts`),
    `import { defineMigration, op } from 'zmigrate';
export default defineMigration({ operations: [
  op.renameColumn('accounts', 'owner', 'holder'),
  op.alterColumn('accounts', 'balance', { type: 'bigint', up: 'balance * 100', down: 'balance / 100' }),
  op.addColumn('accounts', 'tier', { type: 'integer', nullable: false, up: 'CASE WHEN balance >= 500 THEN 2 ELSE 1 END' }),
] });
`,
  );
}

function zmigrate(engine: Engine, dir: string, ...command: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.resolve(__dirname, '..', 'bin', 'zmigrate.js'), ...command, '--dir', dir], {
      env: { ...process.env, ZMIGRATE_DATABASE_URL: urlFor(engine), NO_COLOR: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`zmigrate ${command.join(' ')} failed: ${stderr}`))));
  });
}

/** The last id each slice inserted, and which slice inserted each row, kept across client restarts. */
const nextIds = new Map<number, number>();
const owners = new Map<number, number>();

/** A client of one app version: its own slice of the ids, so the oracle has one writer per row. */
function client(
  app: 'old' | 'new',
  index: number,
  knex: Knex,
  oracle: Map<number, Expected | undefined>,
  stats: Stats,
  retryViewSwap: boolean,
): { stop: () => Promise<void> } {
  const slice = (app === 'old' ? 0 : CLIENTS) + index;
  // One writer per row: seed rows by their id, inserted rows by who inserted them (across client restarts).
  const mine = [...oracle.keys()].filter((id) => (owners.get(id) ?? id % (2 * CLIENTS)) === slice);
  let running = true;
  const name = app === 'old' ? 'owner' : 'holder';
  const scale = app === 'old' ? 1 : 100;
  // MySQL/MariaDB: a statement that races contract's view swap can find its view invalid for a
  // moment (errno 1356); the README tells apps to retry it for up to a second, as this client does (40 ms apart).
  const once = async (work: () => Promise<void>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!retryViewSwap || (error as { errno?: number }).errno !== 1356 || attempt >= 25) throw error;
        stats.retries += 1;
        await new Promise((r) => setTimeout(r, 40));
      }
    }
  };
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const started = performance.now();
      const pick = mine[(i * 7919) % Math.max(1, mine.length)];
      const balance = (i * 37 + slice) % 1000;
      const roll = i % 20;
      try {
        if (roll < 5) {
          const id = (nextIds.get(slice) ?? 10_000_000 * (slice + 1)) + 1;
          nextIds.set(slice, id);
          const row: Record<string, unknown> = { id, [name]: `${app}${slice}-${i}`, balance: balance * scale };
          if (app === 'new') row.tier = tierOf(balance) + 10;
          await once(() => knex('accounts').insert(row));
          oracle.set(id, { owner: `${app}${slice}-${i}`, balance, tier: app === 'new' ? tierOf(balance) + 10 : undefined });
          owners.set(id, slice);
          mine.push(id);
        } else if (roll < 13 && pick !== undefined && oracle.get(pick)) {
          const change: Record<string, unknown> = { [name]: `${app}${slice}-u${i}`, balance: balance * scale };
          if (app === 'new') change.tier = tierOf(balance) + 10;
          await once(() => knex('accounts').where({ id: pick }).update(change));
          oracle.set(pick, { owner: `${app}${slice}-u${i}`, balance, tier: app === 'new' ? tierOf(balance) + 10 : undefined });
        } else if (roll < 15 && pick !== undefined && oracle.get(pick)) {
          await once(() => knex('accounts').where({ id: pick }).delete());
          oracle.set(pick, undefined);
        } else if (pick !== undefined) {
          let row: Record<string, unknown> | undefined;
          await once(async () => {
            row = await knex('accounts').where({ id: pick }).first(name, 'balance');
          });
          const want = oracle.get(pick);
          const ok = want
            ? row !== undefined && row[name] === want.owner && Number(row.balance) === want.balance * scale
            : row === undefined;
          if (!ok) {
            stats.wrongReads += 1;
            console.error(
              `wrong read by ${app} client ${slice} of row ${pick}: got ${JSON.stringify(row)}, expected ${JSON.stringify(want)}`,
            );
          }
        }
        stats.record(performance.now() - started);
      } catch (error) {
        stats.failures.push((error as Error).message.slice(0, 200));
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function seed(knex: Knex, oracle: Map<number, Expected | undefined>): Promise<void> {
  const rows = Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, owner: `seed-${i + 1}`, balance: (i * 13) % 1000 }));
  for (let i = 0; i < rows.length; i += 1000) await knex('accounts').insert(rows.slice(i, i + 1000));
  for (const r of rows) oracle.set(r.id, { owner: r.owner, balance: r.balance });
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** Compares the table with the oracle: rows missing, rows that should be gone, rows with wrong values. */
async function compare(
  knex: Knex,
  oracle: Map<number, Expected | undefined>,
  names: 'old' | 'new',
): Promise<{ lost: number; extra: number; wrong: number }> {
  const rows = (await knex('accounts').select('*')) as Array<Record<string, unknown>>;
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  let lost = 0;
  let extra = 0;
  let wrong = 0;
  for (const [id, want] of oracle) {
    const row = byId.get(id);
    if (!want) {
      if (row) extra += 1;
      continue;
    }
    if (!row) {
      lost += 1;
      continue;
    }
    const ok =
      names === 'old'
        ? row.owner === want.owner && Number(row.balance) === want.balance
        : row.holder === want.owner &&
          Number(row.balance) === want.balance * 100 &&
          Number(row.tier) === (want.tier ?? tierOf(want.balance));
    if (!ok) {
      wrong += 1;
      if (wrong <= 3 && process.env.ZMIGRATE_LIVE_DEBUG) console.error('wrong row', id, JSON.stringify(row), JSON.stringify(want));
    }
  }
  for (const id of byId.keys()) if (!oracle.has(id)) extra += 1;
  return { lost, extra, wrong };
}

async function cycle(engine: Engine, ending: 'contract' | 'rollback') {
  nextIds.clear();
  owners.clear();
  await resetDatabase(engine);
  const dir = migrations();
  await zmigrate(engine, dir, 'expand');
  await zmigrate(engine, dir, 'contract');
  const base = knexFor(engine, engine === 'postgres' ? 'public' : DB);
  const oracle = new Map<number, Expected | undefined>();
  await seed(base, oracle);
  const baseline = new Stats();
  const during = new Stats();
  const retry = engine === 'mysql';

  // Baseline: the old app alone, no migration.
  let olds = Array.from({ length: CLIENTS }, (_, i) => client('old', i, base, oracle, baseline, false));
  await sleep(SECONDS / 4);
  await Promise.all(olds.map((c) => c.stop()));

  // Expand while the old app runs; then both versions live.
  olds = Array.from({ length: CLIENTS }, (_, i) => client('old', i, base, oracle, during, false));
  addReshape(dir);
  await zmigrate(engine, dir, 'expand');
  const schema = engine === 'postgres' ? `public_${SCHEMA_SUFFIX}` : `${DB}_${SCHEMA_SUFFIX}`;
  const v2 = knexFactory(knexConfigForVersion(configFor(engine, DB), schema));
  let news = Array.from({ length: CLIENTS }, (_, i) => client('new', i, v2, oracle, during, retry));
  await sleep(SECONDS / 2);
  let result: { lost: number; extra: number; wrong: number };
  if (ending === 'contract') {
    // The rollout finishes: the old app is gone, then contract with the new app running.
    await Promise.all(olds.map((c) => c.stop()));
    await zmigrate(engine, dir, 'contract');
    await sleep(SECONDS / 4);
    await Promise.all(news.map((c) => c.stop()));
    result = await compare(v2, oracle, 'new');
  } else {
    // The deploy is rolled back first (the new app stops), then zmigrate rollback with the old app running.
    await Promise.all(news.map((c) => c.stop()));
    news = [];
    await zmigrate(engine, dir, 'rollback');
    await sleep(SECONDS / 4);
    await Promise.all(olds.map((c) => c.stop()));
    result = await compare(base, oracle, 'old');
  }
  await Promise.all([base.destroy(), v2.destroy()]);
  return { baseline, during, ...result };
}

async function main(): Promise<void> {
  const lines: string[][] = [
    [
      'engine',
      'cycle',
      'requests',
      'failed',
      'lost',
      'extra',
      'wrong rows',
      'wrong reads',
      'retried',
      'p50 ms (baseline)',
      'p99 ms (baseline)',
    ],
  ];
  for (const engine of ENGINES) {
    for (const ending of ['contract', 'rollback'] as const) {
      const r = await cycle(engine, ending);
      lines.push([
        engine === 'postgres' ? 'PostgreSQL' : 'MariaDB',
        `expand → ${ending}`,
        String(r.during.requests),
        String(r.during.failures.length),
        String(r.lost),
        String(r.extra),
        String(r.wrong),
        String(r.during.wrongReads),
        String(r.during.retries),
        `${r.during.percentile(50).toFixed(1)} (${r.baseline.percentile(50).toFixed(1)})`,
        `${r.during.percentile(99).toFixed(1)} (${r.baseline.percentile(99).toFixed(1)})`,
      ]);
      if (r.during.failures.length > 0) console.error(`${engine} ${ending}: first failures:`, r.during.failures.slice(0, 3));
    }
    // Nothing of the benchmark's stays on the server.
    await resetDatabase(engine, false);
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) console.log(l.map((c, i) => c.padEnd(widths[i])).join('  '));
  const bad = lines.slice(1).some((l) => l[3] !== '0' || l[4] !== '0' || l[5] !== '0' || l[6] !== '0' || l[7] !== '0');
  process.exit(bad ? 1 : 0);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
