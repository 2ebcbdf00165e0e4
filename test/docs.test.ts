/**
 * The README and the guides, tried as a new user would: every shell command
 * in their fenced code blocks (and every `run:` of the example GitHub Actions
 * workflow) is run here as written, in a fresh folder, in the order the doc
 * gives, on PGlite where the doc says so and on PostgreSQL and MariaDB (with
 * the doc's URL swapped for a fresh test database), with assertions on what
 * each command should do (the walkthroughs run concurrently, each in its own
 * folder and databases). The last test checks that the commands run cover
 * every zmigrate / npm command the docs show, but for a short allow-list.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rowsOf } from './support/apps';
import { createTestDatabase, SERVER_ENGINES, type Engine } from './support/databases';
import {
  blocksOf,
  blockWith,
  invocations,
  proseCommands,
  readDoc,
  ROOT,
  shellLines,
  stepRuns,
  withUrl,
  workflowJobs,
  workflowRuns,
  type WorkflowStep,
} from './support/docs';
import { Shell, shellWord, type ShellResult } from './support/shell';
import { runCli } from './support/cli';
import { OPERATION_TEMPLATES } from '../src/cli/templates';
import * as errorClasses from '../src/errors';

const GUIDES = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'migrations-examples/README.md',
];
const WORKFLOW = 'examples/github-actions-deploy.yml';

/**
 * Doc commands no test can sensibly run, by normalized command, with the reason.
 * The coverage test fails when one of these is no longer in the docs.
 */
const NOT_RUN_HERE: Record<string, string> = {
  'npm install': "installs from the registry; the test runs on this checkout's installed node_modules and build",
  'npm ci': 'installs from the registry (the CI workflow); the test project links this checkout as its zmigrate',
  'npm run demo': 'run by test/demo.test.ts (scripts/demo.js, after the build the test run does first)',
  'npm test': 'the whole test suite, this file included',
  'zmigrate expand --replica-url <url> --replica-url <url>':
    'needs running replicas: test/replication.test.ts starts primary + replica pairs and runs expand --replica-url against them',
};

/** Every session the walkthroughs used: what they ran is checked against the docs at the end. */
const shells: Shell[] = [];
/** Commands run other than typed into a session (a workflow step's script), normalized. */
const ran = new Set<string>();

function newShell(cwd: string, env: Record<string, string | undefined> = {}): Shell {
  const shell = new Shell(cwd, env);
  shells.push(shell);
  return shell;
}

type Check = (result: ShellResult) => void | Promise<void>;

/**
 * Runs the commands in order. Each command the next check's pattern matches
 * gets that check; every other command must exit 0. Every check must be used.
 */
async function walk(shell: Shell, commands: string[], checks: Array<[RegExp, Check]>): Promise<ShellResult[]> {
  const pending = [...checks];
  const results: ShellResult[] = [];
  for (const command of commands) {
    const result = await shell.run(command);
    results.push(result);
    if (pending.length > 0 && pending[0][0].test(command)) await pending.shift()![1](result);
    else expect({ command, code: result.code, output: output(result) }).toEqual({ command, code: 0, output: expect.any(String) });
  }
  expect(pending.map(([pattern]) => String(pattern))).toEqual([]);
  return results;
}

const output = (r: ShellResult) => r.stdout + r.stderr;

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-docs-'));
  made.push(dir);
  return dir;
}

/** A folder that looks like this repository after `npm install`: the guides' "in this repository". */
function checkout(): string {
  const dir = tempDir();
  for (const entry of ['bin', 'dist', 'node_modules', 'migrations-examples', 'package.json']) {
    symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  }
  return dir;
}

/** A user's project with zmigrate installed (this checkout, linked), and the given files. */
function project(files: Record<string, string> = {}): string {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'shop', private: true }));
  mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(ROOT, path.join(dir, 'node_modules', 'zmigrate'));
  symlinkSync(path.join('..', 'zmigrate', 'bin', 'zmigrate.js'), path.join(dir, 'node_modules', '.bin', 'zmigrate'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
    if (name.endsWith('.sh')) chmodSync(path.join(dir, name), 0o755);
  }
  return dir;
}

/** A shell in a project, with its node_modules/.bin on the PATH, as npm scripts and `npx` have it. */
function projectShell(dir: string, env: Record<string, string | undefined> = {}): Shell {
  return newShell(dir, {
    PATH: `${path.join(dir, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
    // `npx <bin>` runs the project's installed bin, as npx does, without npm's second of start-up per call (exported to child bash).
    'BASH_FUNC_npx%%':
      '() { if [ -x "node_modules/.bin/$1" ]; then local bin="node_modules/.bin/$1"; shift; "$bin" "$@"; else command npx "$@"; fi; }',
    ...env,
  });
}

function baseOf(engine: Engine, url: string): string {
  return engine === 'mysql' ? decodeURIComponent(new URL(url).pathname.slice(1)) : 'public';
}

// ── the walkthroughs ─────────────────────────────────────────────────────

describe('README quickstart: the CLI on the add-column example', () => {
  const block = blockWith('README.md', 'alias zmigrate=');

  async function quickstart(engine: Engine, url: string | undefined): Promise<void> {
    const dir = checkout();
    const base = url ? baseOf(engine, url) : 'public';
    const schema = `${base}_0002_add_priority`;
    const shell = newShell(dir);
    try {
      const commands = url
        ? block.commands.map((c) => (c.startsWith('export ZMIGRATE_DATABASE_URL=') ? withUrl(c, url) : c))
        : block.commands;
      await walk(shell, commands, [
        [
          /^zmigrate plan /,
          (r) => {
            expect(r).toMatchObject({ code: 0 });
            for (const phase of ['expand', 'contract', 'rollback']) expect(r.stdout).toContain(`-- 0002_add_priority: ${phase}`);
            expect(r.stdout).toMatch(/ADD COLUMN [`"]priority[`"]/);
          },
        ],
        [
          /^zmigrate expand /,
          (r) => expect([r.code, output(r)]).toEqual([0, expect.stringContaining(`new app version schema: ${schema}`)]),
        ],
        [/^zmigrate status /, (r) => expect([r.code, r.stdout]).toEqual([0, expect.stringMatching(/0002_add_priority\s+expanded/)])],
        [
          /^zmigrate schema /,
          (r) => {
            expect([r.code, r.stdout]).toEqual([0, `${schema}\n`]);
            // The doc's comment shows what it prints (on PostgreSQL).
            if (engine !== 'mysql') expect(r.command).toMatch(new RegExp(`# ${schema}$`));
          },
        ],
        [/^zmigrate rollback /, (r) => expect([r.code, output(r)]).toEqual([0, expect.stringContaining('rolled back 0002_add_priority')])],
        [/^zmigrate expand /, (r) => expect([r.code, output(r)]).toEqual([0, expect.stringContaining(`expanded 0002_add_priority`)])],
        [
          /^zmigrate contract /,
          (r) => expect([r.code, output(r)]).toEqual([0, expect.stringContaining(`version schema still served: ${schema}`)]),
        ],
      ]);
      expect(existsSync(path.join(dir, 'try-db'))).toBe(false);
    } finally {
      await shell.close();
    }
  }

  test.concurrent('as written, on the embedded PostgreSQL', async () => {
    expect(block.commands).toContain('export ZMIGRATE_DATABASE_URL=pglite:./try-db');
    await quickstart('pglite', undefined);
  });

  test.concurrent.each(SERVER_ENGINES)('on %s, the URL swapped for a test database', async (engine) => {
    const db = await createTestDatabase(engine);
    try {
      await quickstart(engine, db.url);
      const columns = rowsOf<{ c: string }>(
        await db.knex.raw(
          engine === 'mysql'
            ? "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'orders' ORDER BY ordinal_position"
            : "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders' ORDER BY ordinal_position",
        ),
      ).map((r) => r.c);
      expect(columns).toEqual(expect.arrayContaining(['id', 'priority', 'status']));
    } finally {
      await db.drop();
    }
  });
});

describe('migrations-examples/README: trying one example', () => {
  // PGlite as written is the README quickstart's; here the URL is swapped for a server's.
  test.concurrent.each(SERVER_ENGINES)('--url on the command line, on %s', async (engine) => {
    const block = blockWith('migrations-examples/README.md', '--url pglite:./try-db');
    const db = await createTestDatabase(engine);
    const schema = `${baseOf(engine, db.url)}_0002_add_priority`;
    const shell = newShell(checkout());
    try {
      await walk(
        shell,
        block.commands.map((c) => withUrl(c, db.url)),
        [
          [/ expand /, (r) => expect([r.code, output(r)]).toEqual([0, expect.stringContaining(schema)])],
          [/ status /, (r) => expect([r.code, r.stdout]).toEqual([0, expect.stringMatching(/0002_add_priority\s+expanded/)])],
          [/ contract /, (r) => expect([r.code, r.stdout]).toEqual([0, expect.stringContaining('contracted')])],
        ],
      );
    } finally {
      await shell.close();
      await db.drop();
    }
  });

  test.concurrent.each(SERVER_ENGINES)('ZMIGRATE_DATABASE_URL exported, on %s', async (engine) => {
    const block = blockWith('migrations-examples/README.md', 'export ZMIGRATE_DATABASE_URL=');
    const db = await createTestDatabase(engine);
    const shell = newShell(checkout());
    try {
      await walk(
        shell,
        block.commands.map((c) => withUrl(c, db.url)),
        [
          [/ plan /, (r) => expect([r.code, r.stdout]).toEqual([0, expect.stringContaining('-- 0002_index_orders: rollback')])],
          [/ expand /, (r) => expect(r.code).toBe(0)],
          [
            / rollback /,
            async (r) => {
              expect(r.command).toMatch(/# undoes 0002_index_orders$/);
              expect([r.code, output(r)]).toEqual([0, expect.stringContaining('rolled back 0002_index_orders')]);
              const status = await shell.run('node bin/zmigrate.js status --json --dir migrations-examples/create-index');
              const phases = (JSON.parse(status.stdout) as { migrations: Array<{ name: string; phase: string }> }).migrations;
              expect(phases.map((m) => `${m.name} ${m.phase}`)).toEqual(['0001_create_orders expanded', '0002_index_orders rolled back']);
            },
          ],
        ],
      );
    } finally {
      await shell.close();
      await db.drop();
    }
  });
});

describe('README: a deploy script around zmigrate schema, with the config file and migration the README shows', () => {
  test.concurrent.each(SERVER_ENGINES)('on %s: expand, the new app on $VERSION_SCHEMA beside the old one, contract', async (engine) => {
    const db = await createTestDatabase(engine);
    const config = JSON.parse(blockWith('README.md', '"lockTimeout"').text) as { url: string; dir: string };
    const migration = blockWith('README.md', '// migrations/0002_add_priority.ts').text;
    const dir = project({
      'zmigrate.config.json': JSON.stringify({ ...config, url: db.url }),
      [path.join(config.dir, '0002_add_priority.ts')]: migration,
    });
    // An existing database that zmigrate adopts: the table is not zmigrate's.
    await db.knex.raw('CREATE TABLE orders (id bigint PRIMARY KEY, customer varchar(100), amount integer)');
    await db.knex('orders').insert({ id: 1, customer: 'alice', amount: 10 });
    const schema = `${baseOf(engine, db.url)}_0002_add_priority`;
    const shell = projectShell(dir);
    try {
      await walk(shell, blockWith('README.md', 'VERSION_SCHEMA=$(zmigrate schema)').commands, [
        [/^zmigrate expand$/, (r) => expect(r.code).toBe(0)],
        [
          /^VERSION_SCHEMA=/,
          async (r) => {
            expect(r.code).toBe(0);
            expect((await shell.run('printf %s "$VERSION_SCHEMA"')).stdout).toBe(schema);
            if (engine !== 'mysql') expect(r.command).toMatch(new RegExp(`# e\\.g\\. ${schema}$`));
            // The new app on its version schema, the old one on the base tables, side by side.
            const newApp = db.versionKnex(schema);
            await newApp('orders').insert({ id: 2, customer: 'bob', amount: 20, priority: 1, status: 'paid' });
            await db.knex('orders').insert({ id: 3, customer: 'carol', amount: 30 });
            expect(await newApp('orders').orderBy('id').select('id', 'priority', 'status')).toEqual([
              { id: expect.anything(), priority: null, status: 'new' },
              { id: expect.anything(), priority: 1, status: 'paid' },
              { id: expect.anything(), priority: null, status: 'new' },
            ]);
          },
        ],
        [/^zmigrate contract$/, (r) => expect(r.code).toBe(0)],
      ]);
      // After contract the new app needs no redeploy.
      expect((await db.versionKnex(schema)('orders').where({ id: 3 }).first('status'))?.status).toBe('new');
    } finally {
      await shell.close();
      await db.drop();
    }
  });
});

const UNSAFE_MIGRATION = `import { defineMigration, op } from 'zmigrate';

export default defineMigration({
  operations: [
    op.sql({
      expand: 'ALTER TABLE orders RENAME COLUMN customer TO customer_name',
      rollback: 'ALTER TABLE orders RENAME COLUMN customer_name TO customer',
    }),
  ],
});
`;

describe('docs/lint.md', () => {
  test.concurrent('every lint command, on a project with an unsafe migration', async () => {
    const dir = project({ 'migrations/0001_rename.ts': UNSAFE_MIGRATION });
    const shell = projectShell(dir);
    const finding = 'rename-column-in-expand';
    try {
      await walk(shell, blockWith('docs/lint.md', 'zmigrate lint --json').commands, [
        [
          /^zmigrate lint +#/,
          (r) => expect([r.code, output(r)]).toEqual([1, expect.stringMatching(new RegExp(`${finding}[^]*\\(postgres\\)`))]),
        ],
        [/--engine mysql/, (r) => expect([r.code, output(r)]).toEqual([1, expect.stringMatching(new RegExp(`${finding}[^]*\\(mysql\\)`))])],
        [/--url mysql:/, (r) => expect([r.code, output(r)]).toEqual([1, expect.stringContaining('(mysql)')])],
        [
          /--json/,
          (r) => {
            expect(r.code).toBe(1);
            expect(JSON.parse(r.stdout)).toEqual({
              engine: 'postgres',
              findings: [
                expect.objectContaining({ migration: '0001_rename', phase: 'expand', rule: finding, file: expect.any(String), line: 6 }),
              ],
            });
          },
        ],
        [
          /--format github/,
          (r) => expect([r.code, r.stdout]).toEqual([1, expect.stringMatching(/^::error file=migrations\/0001_rename\.ts,line=6,/)]),
        ],
      ]);
      // The CI step the guide shows, run as GitHub Actions runs a step.
      const ci = blockWith('docs/lint.md', '- run: npx zmigrate lint');
      expect(ci.commands).toHaveLength(1);
      const step = await shell.run(`bash --noprofile --norc -eo pipefail -c ${shellWord(ci.commands[0])}`);
      ran.add(invocations(ci.commands[0])[0]);
      expect([step.code, step.stdout]).toEqual([
        1,
        expect.stringContaining(`::error file=migrations/0001_rename.ts,line=6,title=zmigrate lint%3A ${finding}`),
      ]);
    } finally {
      await shell.close();
    }
  });
});

describe('examples/github-actions-deploy.yml', () => {
  const jobs = workflowJobs(readDoc(WORKFLOW));
  const job = (name: string) => {
    const found = jobs.find((j) => j.name === name);
    if (!found) throw new Error(`${WORKFLOW}: no job ${name}`);
    return found;
  };

  /** Runs a job's steps as GitHub Actions would: each step its own bash -eo pipefail; after a failure only the steps whose `if:` says so. */
  async function runJob(
    shell: Shell,
    name: string,
    secrets: Record<string, string>,
  ): Promise<Array<{ step: WorkflowStep; result?: ShellResult }>> {
    const secret = (value: string) => value.replace(/\$\{\{\s*secrets\.(\w+)\s*\}\}/g, (_, key: string) => secrets[key] ?? '');
    const results: Array<{ step: WorkflowStep; result?: ShellResult }> = [];
    let failed = false;
    const outcomes: Record<string, string> = {};
    for (const step of job(name).steps) {
      if (!stepRuns(step.if, failed, outcomes) || NOT_RUN_HERE[step.run]) {
        if (step.id) outcomes[step.id] = 'skipped';
        results.push({ step });
        continue;
      }
      const env = Object.entries({ ...job(name).env, ...step.env })
        .map(([key, value]) => `${key}=${shellWord(secret(value))}`)
        .join(' ');
      for (const line of shellLines(step.run)) for (const key of invocations(line)) ran.add(key);
      const result = await shell.run(`env ${env} bash --noprofile --norc -eo pipefail -c ${shellWord(step.run)}`);
      results.push({ step, result });
      if (step.id) outcomes[step.id] = result.code === 0 ? 'success' : 'failure';
      if (result.code !== 0) failed = true;
    }
    return results;
  }

  const stepResult = (results: Array<{ step: WorkflowStep; result?: ShellResult }>, match: RegExp) => {
    const found = results.find((r) => match.test(r.step.name ?? r.step.run));
    if (!found) throw new Error(`no step matching ${match}`);
    return found.result;
  };

  test('the jobs run on the events the comments say', () => {
    expect(job('check-migrations').if).toContain("github.event_name == 'pull_request'");
    expect(job('deploy').if).toContain("github.event_name == 'push'");
  });

  test.concurrent.each(SERVER_ENGINES)(
    'on %s: the pull request checks, a failed deploy rolled back, a failed contract and a stopped state check not, then a deploy to the end',
    async (engine) => {
      const db = await createTestDatabase(engine);
      const example = path.join(ROOT, 'migrations-examples', 'rename-column');
      const files: Record<string, string> = {
        'scripts/deploy.sh': '#!/bin/sh\necho "$1" > deployed-schema.txt\n[ ! -f deploy-fails ]\n',
        'scripts/wait-for-rollout.sh': '#!/bin/sh\ntrue\n',
        'scripts/rollback-app.sh': '#!/bin/sh\necho app rolled back > app-rolled-back.txt\n',
        'deploy-fails': '',
      };
      for (const file of readdirSync(example)) files[`migrations/${file}`] = readFileSync(path.join(example, file), 'utf8');
      const dir = project(files);
      const schema = `${baseOf(engine, db.url)}_0002_rename_customer`;
      const shell = projectShell(dir);
      try {
        const pr = await runJob(shell, 'check-migrations', { DATABASE_URL: db.url });
        expect(stepResult(pr, /lint/)).toMatchObject({ code: 0 });
        const plan = stepResult(pr, /zmigrate plan/)!;
        expect([plan.code, plan.stdout]).toEqual([0, expect.stringContaining('-- 0002_rename_customer: rollback')]);

        // The first deploy fails: the app is rolled back, then expand is undone, both migrations it expanded.
        const failedRun = await runJob(shell, 'deploy', { DATABASE_URL: db.url });
        expect(stepResult(failedRun, /state before/)).toMatchObject({ code: 0 });
        expect(stepResult(failedRun, /^expand$/)).toMatchObject({ code: 0 });
        expect(stepResult(failedRun, /deploy the new version/)).toMatchObject({ code: 1 });
        expect(readFileSync(path.join(dir, 'deployed-schema.txt'), 'utf8')).toBe(`${schema}\n`);
        expect(stepResult(failedRun, /wait for the rollout/)).toBeUndefined();
        expect(stepResult(failedRun, /^contract$/)).toBeUndefined();
        expect(stepResult(failedRun, /^rollback$/)).toMatchObject({ code: 0 });
        expect(existsSync(path.join(dir, 'app-rolled-back.txt'))).toBe(true);
        const afterRollback = await shell.run(`ZMIGRATE_DATABASE_URL=${shellWord(db.url)} zmigrate status --check`);
        expect([afterRollback.code, afterRollback.stdout]).toEqual([
          3,
          expect.stringMatching(/^0001_create_orders\s+rolled back\n0002_rename_customer\s+rolled back\n$/),
        ]);

        // 3: pending again, so the next push expands it again.
        // Fixed and pushed again, but contract fails (here: the migration file was edited during the rollout,
        // exit 2): the app runs on the new shape, so nothing is rolled back.
        rmSync(path.join(dir, 'deploy-fails'));
        rmSync(path.join(dir, 'app-rolled-back.txt'));
        const migration = path.join(dir, 'migrations', '0002_rename_customer.ts');
        const source = readFileSync(migration, 'utf8');
        writeFileSync(
          path.join(dir, 'scripts', 'wait-for-rollout.sh'),
          '#!/bin/sh\necho "// edited" >> migrations/0002_rename_customer.ts\n',
        );
        const contractFailed = await runJob(shell, 'deploy', { DATABASE_URL: db.url });
        expect(contractFailed.filter((r) => r.result).map((r) => [r.step.name, r.result!.code])).toEqual([
          ['state before', 0],
          ['expand', 0],
          ['deploy the new version on its version schema', 0],
          ['wait for the rollout to complete', 0],
          ['contract', 2],
        ]);
        expect(existsSync(path.join(dir, 'app-rolled-back.txt'))).toBe(false);
        // Run again as it is: the state before stops it (exit 5, a file edited after it was applied), and that
        // rolls nothing back either.
        const stopped = await runJob(shell, 'deploy', { DATABASE_URL: db.url });
        expect(stopped.filter((r) => r.result).map((r) => [r.step.name, r.result!.code])).toEqual([['state before', 1]]);
        expect(existsSync(path.join(dir, 'app-rolled-back.txt'))).toBe(false);

        // The file put back, the job run again, and this time the deploy fails: the app is rolled back, but not
        // the migrations an earlier run expanded (their app version may be what runs now).
        writeFileSync(migration, source);
        writeFileSync(path.join(dir, 'scripts', 'wait-for-rollout.sh'), '#!/bin/sh\ntrue\n');
        writeFileSync(path.join(dir, 'deploy-fails'), '');
        const redeployFailed = await runJob(shell, 'deploy', { DATABASE_URL: db.url });
        expect(redeployFailed.filter((r) => r.result).map((r) => [r.step.name, r.result!.code])).toEqual([
          ['state before', 0],
          ['expand', 0],
          ['deploy the new version on its version schema', 1],
          ['rollback', 0],
        ]);
        expect(existsSync(path.join(dir, 'app-rolled-back.txt'))).toBe(true);
        const stillExpanded = await shell.run(`ZMIGRATE_DATABASE_URL=${shellWord(db.url)} zmigrate status --check`);
        expect([stillExpanded.code, stillExpanded.stdout]).toEqual([4, expect.stringMatching(/0002_rename_customer\s+expanded/)]);

        // Run again with a deploy that works: expand finds nothing to do, contract goes ahead.
        rmSync(path.join(dir, 'deploy-fails'));
        const run = await runJob(shell, 'deploy', { DATABASE_URL: db.url });
        expect(run.filter((r) => r.result).map((r) => [r.step.name, r.result!.code])).toEqual([
          ['state before', 0],
          ['expand', 0],
          ['deploy the new version on its version schema', 0],
          ['wait for the rollout to complete', 0],
          ['contract', 0],
        ]);
        const complete = await shell.run(`ZMIGRATE_DATABASE_URL=${shellWord(db.url)} zmigrate status --check`);
        expect(complete.code).toBe(0);
        expect((await db.versionKnex(schema)('orders').columnInfo()).customer_name).toBeDefined();
      } finally {
        await shell.close();
        await db.drop();
      }
    },
  );
});

describe('commands the prose names', () => {
  /** The command as the doc's prose spells it; fails when the doc no longer names it. */
  const named = (file: string, command: string) => {
    expect(proseCommands(file).map((p) => p.command)).toContain(command);
    return command;
  };

  test.concurrent.each(SERVER_ENGINES)('on %s: plan --phase rollback, backfill, new', async (engine) => {
    const db = await createTestDatabase(engine);
    const example = path.join(ROOT, 'migrations-examples', 'alter-column');
    const files: Record<string, string> = {};
    for (const file of readdirSync(example)) files[`migrations/${file}`] = readFileSync(path.join(example, file), 'utf8');
    const dir = project({ ...files, 'zmigrate.config.json': JSON.stringify({ url: db.url }) });
    const shell = projectShell(dir);
    try {
      await walk(
        shell,
        [
          named('docs/deploying.md', 'zmigrate expand'),
          named('docs/deploying.md', 'zmigrate plan --phase rollback'),
          named('README.md', 'zmigrate backfill'),
          named('docs/deploying.md', 'zmigrate rollback'),
          named('README.md', 'zmigrate new add_priority'),
        ],
        [
          [/^zmigrate expand$/, (r) => expect(r.code).toBe(0)],
          [
            /--phase rollback/,
            (r) => {
              expect(r.code).toBe(0);
              expect(r.stdout.match(/^-- \S+: \w+$/gm)).toEqual(['-- 0001_create_orders: rollback', '-- 0002_amount_in_cents: rollback']);
              expect(r.stdout).toMatch(/DROP COLUMN (IF EXISTS )?[`"]_zm_amount[`"]/);
            },
          ],
          [/^zmigrate backfill$/, (r) => expect([r.code, output(r)]).toEqual([0, expect.stringContaining('0002_amount_in_cents')])],
          [
            /^zmigrate rollback$/,
            (r) => expect([r.code, output(r)]).toEqual([0, expect.stringContaining('rolled back 0002_amount_in_cents')]),
          ],
          [
            /^zmigrate new /,
            (r) => {
              expect(r.code).toBe(0);
              const file = r.stdout.trim();
              expect(file).toMatch(/(^|\/)migrations\/\d{14}_add_priority\.ts$/);
              expect(existsSync(path.resolve(dir, file))).toBe(true);
            },
          ],
        ],
      );
    } finally {
      await shell.close();
      await db.drop();
    }
  });
});

describe("the README's reference lists match the code", () => {
  const readme = readDoc('README.md');

  test('the CLI table has a row for every command, and `new --op` lists every template', async () => {
    const help = await runCli(['--help']);
    const commands = [...help.stdout.matchAll(/^ {2}zmigrate (\w+)/gm)].map((m) => m[1]);
    expect(commands).toContain('lint');
    const rows = [...readme.matchAll(/^\| `zmigrate (\w+)[^`]*` +\|(.*)\|$/gm)];
    expect(rows.map((r) => r[1]).sort()).toEqual([...commands].sort());
    const newRow = rows.find((r) => r[1] === 'new')![2];
    const templates = /from a template \(([^)]*)\)/
      .exec(newRow)![1]
      .match(/`[\w-]+`/g)!
      .map((t) => t.slice(1, -1));
    expect(templates).toEqual(Object.keys(OPERATION_TEMPLATES));
  });

  test('the examples the demo runs are the ones the README and migrations-examples/README name', () => {
    const stories = [...readFileSync(path.join(ROOT, 'scripts', 'demo.js'), 'utf8').matchAll(/^ {4}example: '([\w-]+)',$/gm)].map(
      (m) => m[1],
    );
    const numbers = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
    const named = (text: string, pattern: RegExp) => {
      const [, count, list] = pattern.exec(text.replace(/\s+/g, ' '))!;
      return { count, examples: list.match(/`[\w-]+`/g)!.map((e) => e.slice(1, -1)) };
    };
    const expected = { count: numbers[stories.length], examples: stories };
    expect(named(readme, /`npm run demo` needs no database server: it runs (\w+) examples of \S+ \(([^)]*)\)/)).toEqual(expected);
    expect(named(readDoc('migrations-examples/README.md'), /`npm run demo` runs (\w+) of them \(([^)]*)\)/)).toEqual(expected);
  });

  test('the API section names every public Migrator method and every error class the package exports', () => {
    const api = /^Options: `url`[^]*?with an `exitCode` and a `hint`\./m.exec(readme)![0];
    const declared = /export declare class Migrator \{([^]*?)\n\}/.exec(readFileSync(path.join(ROOT, 'dist', 'api.d.ts'), 'utf8'))![1];
    const methods = [...declared.matchAll(/^ {4}(\w+)\(/gm)].map((m) => m[1]).filter((m) => m !== 'constructor');
    expect(methods).toContain('backfill');
    const errors = Object.entries(errorClasses)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error)
      .map(([name]) => name);
    expect(errors).toContain('VerificationError');
    expect([...methods, ...errors].filter((name) => ![`\`${name}\``, `\`${name}(`].some((form) => api.includes(form)))).toEqual([]);
  });
});

// ── coverage ─────────────────────────────────────────────────────────────

// Not concurrent: it runs once every walkthrough above has finished.
test('every zmigrate and npm command in the README, the guides and the workflow was run above (or is allowed not to be), and every one the prose names', () => {
  const documented = new Map<string, string>();
  for (const file of GUIDES) {
    for (const block of blocksOf(file)) {
      for (const command of block.commands) for (const key of invocations(command)) documented.set(key, `${file}:${block.line}`);
    }
  }
  for (const step of workflowRuns(readDoc(WORKFLOW))) {
    for (const line of shellLines(step.run)) for (const key of invocations(line)) documented.set(key, WORKFLOW);
  }
  // The reader found what is there.
  expect([...documented.keys()]).toEqual(
    expect.arrayContaining([
      'zmigrate plan --dir migrations-examples/add-column',
      'zmigrate status --check',
      'zmigrate schema',
      'npm run demo',
    ]),
  );
  for (const shell of shells) for (const command of shell.history) for (const key of invocations(command)) ran.add(key);
  const missing = [...documented].filter(([key]) => !ran.has(key) && !NOT_RUN_HERE[key]).map(([key, where]) => `${where}: ${key}`);
  expect(missing).toEqual([]);
  // Commands the prose names: run as written, or a command that starts with them was (`zmigrate new` by `zmigrate new add_priority`).
  const unnamed = GUIDES.flatMap((file) =>
    proseCommands(file)
      .filter(({ command }) => !invocations(command).every((key) => [...ran].some((r) => r === key || r.startsWith(`${key} `))))
      .map(({ line, command }) => `${file}:${line}: ${command}`),
  );
  expect(unnamed).toEqual([]);
  const stale = Object.keys(NOT_RUN_HERE).filter((key) => !documented.has(key));
  expect(stale).toEqual([]);
});
