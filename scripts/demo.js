#!/usr/bin/env node
/**
 * npm run demo: the examples of migrations-examples/ on the embedded
 * PostgreSQL (PGlite), no server needed. For each example it deploys "app v1"
 * (the example's first migrations, expanded and contracted), then plays the
 * deploy of v2 phase by phase: expand, the old app and the new app working
 * side by side, contract, status.
 *
 * PGlite runs in this process and serves one connection at a time, so the
 * Migrator is closed before an app connects, and each app session is a short
 * knex connection of its own. The old app uses the base tables (search_path
 * public); the new app sets search_path to its version schema, which is all
 * a real app has to do.
 *
 * The data lives in ./.zmigrate-demo (deleted at the start, gitignored).
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const chalk = require('chalk');
const knexFactory = require('knex');
const knexPglite = require('knex-pglite');
const { Migrator, knexConfigForVersion } = require('../dist');

const ClientPgLite = knexPglite.default || knexPglite;
const ROOT = path.resolve(__dirname, '..');
const EXAMPLES = path.join(ROOT, 'migrations-examples');
const WORK = path.join(ROOT, '.zmigrate-demo');

const color = new chalk.Instance({ level: process.stdout.isTTY && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb' ? 1 : 0 });
const say = (line = '') => process.stdout.write(`${line}\n`);

/** Steps the Migrator reports, indented under the phase. */
const logger = {
  info: (m) => say(`  ${color.bold(m)}`),
  step: (m) => say(`    ${color.dim('·')} ${m}`),
  warn: (m) => say(`    ${color.yellow('!')} ${m}`),
};

/** One example's database folder and the migrations folder that grows as versions are deployed. */
class Stage {
  constructor(example) {
    this.example = example;
    this.files = fs
      .readdirSync(path.join(EXAMPLES, example))
      .filter((f) => f.endsWith('.ts'))
      .sort();
    this.root = path.join(WORK, example);
    this.db = path.join(this.root, 'db');
    this.dir = path.join(this.root, 'migrations');
    fs.mkdirSync(this.dir, { recursive: true });
    // A copy of an empty database: far quicker than letting PGlite create one per example.
    fs.cpSync(path.join(WORK, 'template'), this.db, { recursive: true });
  }

  /** Puts the example's migration files into the migrations folder, as a deploy of that version would. */
  add(files) {
    for (const f of files) fs.copyFileSync(path.join(EXAMPLES, this.example, f), path.join(this.dir, f));
  }

  async migrator(work, options = {}) {
    const migrator = new Migrator({ url: `pglite:${this.db}`, dir: this.dir, logger: options.quiet ? undefined : logger });
    try {
      return await work(migrator);
    } finally {
      await migrator.close();
    }
  }

  /** v1 is live: the example's first migrations, expanded and contracted without fuss. */
  async deployV1(files) {
    if (files.length === 0) {
      say(`${color.cyan('app v1')} runs on an empty database`);
      return;
    }
    this.add(files);
    await this.migrator(
      async (m) => {
        await m.expand();
        await m.contract();
      },
      { quiet: true },
    );
    say(`${color.cyan('app v1')} is live: ${files.map((f) => path.basename(f, '.ts')).join(', ')} expanded and contracted`);
  }

  async expand(files) {
    this.add(files);
    say();
    say(color.bold('▶ zmigrate expand'));
    const schema = await this.migrator(async (m) => {
      await m.expand();
      return m.schema();
    });
    say(`  new app version schema: ${color.green(schema)}`);
    return schema;
  }

  async contract() {
    say();
    say(color.bold('▶ zmigrate contract') + color.dim('   (v2 is fully rolled out; v1 is gone)'));
    await this.migrator((m) => m.contract());
  }

  async status() {
    say();
    say(color.bold('▶ zmigrate status'));
    const statuses = await this.migrator((m) => m.status(), { quiet: true });
    const width = Math.max(...statuses.map((s) => s.name.length));
    for (const s of statuses)
      say(`  ${s.name.padEnd(width)}  ${s.phase.padEnd(9)}  ${s.versionSchema ? `schema ${s.versionSchema}` : ''}`.trimEnd());
  }

  /**
   * An app session: a connection of its own, with search_path set to the
   * version schema for the new app. Each statement is printed with its result.
   */
  async app(who, schema, statements) {
    say();
    const label = { old: color.yellow('old app (v1)'), new: color.magenta('new app (v2)'), look: color.blue('a look at the database') }[
      who
    ];
    say(`${label} ${color.dim(schema ? `search_path = ${schema}` : 'base tables, search_path = public')}`);
    const config = { client: ClientPgLite, dialect: 'postgres', connection: { filename: this.db } };
    // The new app: search_path = its version schema (knexConfigForVersion sets knex's searchPath).
    const knex = knexFactory(schema ? knexConfigForVersion(config, schema) : config);
    try {
      for (const entry of statements) {
        const { sql, expectError } = typeof entry === 'string' ? { sql: entry } : entry;
        say(`  ${color.dim('>')} ${sql}`);
        try {
          const result = await knex.raw(sql);
          if (expectError) throw new Error(`expected this to fail: ${sql}`);
          printResult(result);
        } catch (error) {
          if (!expectError || /^expected this to fail/.test(error.message)) throw error;
          const text = error.message.startsWith(`${sql} - `) ? error.message.slice(sql.length + 3) : error.message;
          say(`    ${color.dim(`error, as expected: ${text.split('\n')[0]}`)}`);
        }
      }
    } finally {
      await knex.destroy();
    }
  }
}

function printResult(result) {
  const rows = Array.isArray(result.rows) ? result.rows : [];
  const columns = Array.isArray(result.fields) ? result.fields.map((f) => f.name) : [];
  if (columns.length === 0) {
    const n = Number(result.affectedRows ?? result.rowCount ?? 0);
    say(`    ${color.dim(`ok, ${n} row${n === 1 ? '' : 's'}`)}`);
    return;
  }
  const cell = (v) => (v === null ? 'NULL' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values) => `    ${values.map((v, i) => v.padEnd(widths[i])).join(' | ')}`.trimEnd();
  say(color.dim(line(columns)));
  for (const row of rows) say(line(columns.map((c) => cell(row[c]))));
  if (rows.length === 0) say(`    ${color.dim('(no rows)')}`);
}

function title(text) {
  say();
  say(color.bold.underline(text));
}

/** The story each example tells. `v1` are the files app v1 runs on; `v2` the migration v2 brings. */
const STORIES = [
  {
    example: 'rename-column',
    async play(stage) {
      const [v1, ...v2] = stage.files;
      await stage.deployV1([v1]);
      await stage.app('old', null, ["INSERT INTO orders (id, customer, amount) VALUES (1, 'alice', 10)"]);
      const schema = await stage.expand(v2);
      say(color.dim('  (one physical column, two names: v1 writes customer, v2 writes customer_name, each sees the other)'));
      await stage.app('old', null, ["INSERT INTO orders (id, customer, amount) VALUES (2, 'bob', 20)"]);
      await stage.app('new', schema, [
        "INSERT INTO orders (id, customer_name, amount) VALUES (3, 'carol', 30)",
        "UPDATE orders SET customer_name = 'alice b.' WHERE id = 1",
        'SELECT id, customer_name, amount FROM orders ORDER BY id',
      ]);
      await stage.app('old', null, ['SELECT id, customer, amount FROM orders ORDER BY id']);
      await stage.contract();
      await stage.app('new', schema, ['SELECT id, customer_name FROM orders ORDER BY id']);
      await stage.status();
    },
  },
  {
    example: 'alter-column',
    async play(stage) {
      const [v1, ...v2] = stage.files;
      await stage.deployV1([v1]);
      await stage.app('old', null, ["INSERT INTO orders (id, customer, amount) VALUES (1, 'alice', 10)"]);
      const schema = await stage.expand(v2);
      say(color.dim("  (v2 counts cents in a bigint beside v1's integer units; triggers convert each write both ways)"));
      await stage.app('old', null, ["INSERT INTO orders (id, customer, amount) VALUES (2, 'bob', 7)"]);
      await stage.app('new', schema, [
        "INSERT INTO orders (id, customer, amount) VALUES (3, 'carol', 1500)",
        'SELECT id, customer, amount AS amount_in_cents FROM orders ORDER BY id',
      ]);
      await stage.app('old', null, ['SELECT id, customer, amount AS amount_in_units FROM orders ORDER BY id']);
      await stage.contract();
      await stage.app('look', null, ['SELECT id, customer, amount FROM orders ORDER BY id']);
      await stage.status();
    },
  },
  {
    example: 'create-table',
    async play(stage) {
      await stage.deployV1([]);
      const schema = await stage.expand(stage.files);
      say();
      say(`${color.yellow('old app (v1)')} never refers to the new tables: nothing changes for it`);
      await stage.app('new', schema, [
        "INSERT INTO orders (id, customer, amount) VALUES (1, 'alice', 42)",
        "INSERT INTO order_lines (order_id, line, product) VALUES (1, 1, 'pen'), (1, 2, 'ink')",
        'SELECT o.id, o.customer, l.line, l.product, l.quantity FROM orders o JOIN order_lines l ON l.order_id = o.id ORDER BY l.line',
      ]);
      await stage.contract();
      await stage.status();
    },
  },
  {
    example: 'add-column',
    async play(stage) {
      const [v1, ...v2] = stage.files;
      await stage.deployV1([v1]);
      await stage.app('old', null, ["INSERT INTO orders (id, customer, amount) VALUES (1, 'alice', 10)"]);
      const schema = await stage.expand(v2);
      say(
        color.dim('  (PostgreSQL has no invisible columns: v1 sees priority and status in SELECT *; it must name its columns in INSERT)'),
      );
      await stage.app('old', null, [
        "INSERT INTO orders (id, customer, amount) VALUES (2, 'bob', 20)",
        'SELECT id, customer, amount FROM orders ORDER BY id',
        'SELECT * FROM orders WHERE id = 1',
      ]);
      await stage.app('new', schema, [
        "INSERT INTO orders (id, customer, amount, priority, status) VALUES (3, 'carol', 30, 1, 'paid')",
        'SELECT id, customer, amount, priority, status FROM orders ORDER BY id',
      ]);
      await stage.contract();
      await stage.status();
      await stage.app('new', schema, [
        "UPDATE orders SET status = 'shipped' WHERE id = 3",
        'SELECT id, customer, priority, status FROM orders ORDER BY id',
      ]);
    },
  },
  {
    example: 'create-index',
    async play(stage) {
      const [v1, ...v2] = stage.files;
      await stage.deployV1([v1]);
      const schema = await stage.expand(v2);
      await stage.app('old', null, ["INSERT INTO orders (id, customer, external_ref) VALUES (1, 'alice', 'A-1')"]);
      await stage.app('new', schema, [
        "INSERT INTO orders (id, customer, external_ref) VALUES (2, 'bob', 'B-7')",
        { sql: "INSERT INTO orders (id, customer, external_ref) VALUES (3, 'bob', 'A-1')", expectError: true },
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'orders' ORDER BY indexname",
      ]);
      await stage.contract();
      await stage.status();
    },
  },
  {
    example: 'drop-table',
    async play(stage) {
      const [v1, ...v2] = stage.files;
      await stage.deployV1([v1]);
      const schema = await stage.expand(v2);
      await stage.app('old', null, [
        "INSERT INTO legacy_notes (id, body) VALUES (1, 'v1 still writes here')",
        'SELECT id, body FROM legacy_notes',
      ]);
      await stage.app('new', schema, [
        'SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name',
        { sql: 'SELECT * FROM legacy_notes', expectError: true },
      ]);
      await stage.contract();
      await stage.app('look', null, [
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
      ]);
      await stage.status();
    },
  },
  {
    example: 'raw-sql',
    async play(stage) {
      const [v1, ...v2] = stage.files;
      await stage.deployV1([v1]);
      const schema = await stage.expand(v2);
      await stage.app('old', null, ["INSERT INTO orders (id, customer, amount) VALUES (1, 'alice', 10)"]);
      await stage.app('new', schema, ['SELECT code, label FROM order_statuses ORDER BY code']);
      await stage.contract();
      await stage.app('new', schema, ['SELECT code, label FROM order_statuses ORDER BY code']);
      await stage.status();
    },
  },
];

async function main() {
  const started = Date.now();
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  say(
    color.bold('zmigrate demo') +
      ` — expand/contract on the embedded PostgreSQL (PGlite), data in ${path.relative(process.cwd(), WORK) || '.'}`,
  );
  say(color.dim('each example: app v1 is live → zmigrate expand → v1 and v2 run side by side → zmigrate contract'));

  // An empty database to copy for each example.
  const template = knexFactory({ client: ClientPgLite, dialect: 'postgres', connection: { filename: path.join(WORK, 'template') } });
  await template.raw('SELECT 1');
  await template.destroy();

  for (const story of STORIES) {
    title(`━━ ${story.example} (migrations-examples/${story.example}) ━━`);
    await story.play(new Stage(story.example));
  }
  say();
  say(
    color.green(
      `demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s: ${STORIES.length} examples expanded, used by both app versions, and contracted`,
    ),
  );
}

main().catch((error) => {
  process.stderr.write(`demo failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
