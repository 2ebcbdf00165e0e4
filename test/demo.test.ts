/**
 * `npm run demo` is the README's second set-up command: it must run from a
 * fresh install (the build is done by npm's pretest here), exit 0, and show
 * each phase: expand with the version schema, the old and the new
 * app side by side, contract, status.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const WORK = path.join(ROOT, '.zmigrate-demo');

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], {
      cwd: ROOT,
      env: { ...process.env, ZMIGRATE_DATABASE_URL: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * PGlite (PostgreSQL in WebAssembly) takes some 45 s for the seven examples
 * alone and twice that beside another test file: more than the suite's
 * 120 s per test on a busy machine.
 */
const DEMO_TIMEOUT_MS = 300_000;

test(
  'node scripts/demo.js runs every example on PGlite and shows each phase',
  async () => {
    // Left over from an earlier run: the demo starts from scratch.
    mkdirSync(WORK, { recursive: true });
    writeFileSync(path.join(WORK, 'stale-marker'), 'x');

    const { code, stdout, stderr } = await runDemo();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(existsSync(path.join(WORK, 'stale-marker'))).toBe(false);

    // Not a TTY: no colours.
    expect(stdout).not.toMatch(/\u001b\[/);
    const lines = stdout.split('\n');
    const has = (line: string) => expect(lines).toContain(line);

    for (const example of ['rename-column', 'alter-column', 'create-table', 'add-column', 'create-index', 'drop-table', 'raw-sql']) {
      has(`━━ ${example} (migrations-examples/${example}) ━━`);
    }
    // expand, with the steps the Migrator logs and the version schema
    has('▶ zmigrate expand');
    has('  expand 0002_add_priority');
    has('    · add column orders.priority');
    has('  new app version schema: public_0002_add_priority');
    // the old app on the base tables, the new app through its version schema
    has('old app (v1) base tables, search_path = public');
    has('new app (v2) search_path = public_0002_add_priority');
    has('    id | customer | amount | priority | status');
    has('    1  | alice    | 10     | NULL     | new');
    has('    3  | carol    | 30     | 1        | paid');
    has('    error, as expected: duplicate key value violates unique constraint "orders_external_ref_key"');
    has('    error, as expected: relation "legacy_notes" does not exist');
    has('    archived | Archived');
    // the rename with both versions live: each writes under its own name and sees the other's rows
    has('new app (v2) search_path = public_0002_rename_customer');
    has('    1  | alice b.      | 10');
    has('    1  | alice b. | 10');
    // the type change: v2 in cents, v1 in units, kept in sync by the triggers
    has('    · dual-write trigger on orders');
    has('    3  | carol    | 1500');
    // contract, then status
    has('▶ zmigrate contract   (v2 is fully rolled out; v1 is gone)');
    has('    · drop table legacy_notes');
    has('  0002_add_priority   complete   schema public_0002_add_priority');
    has('  0002_order_statuses  complete   schema public_0002_order_statuses');
    expect(stdout).toMatch(/demo finished in [\d.]+ s: 7 examples expanded, used by both app versions, and contracted\n$/);

    // The phases come in order for the main story.
    const at = (line: string, from = 0) => lines.indexOf(line, from);
    const story = at('━━ add-column (migrations-examples/add-column) ━━');
    const expand = at('  expand 0002_add_priority', story);
    const newApp = at('new app (v2) search_path = public_0002_add_priority', expand);
    const contract = at('  contract 0002_add_priority', newApp);
    const status = at('  0002_add_priority   complete   schema public_0002_add_priority', contract);
    expect([story, expand, newApp, contract, status].every((i) => i >= 0)).toBe(true);
    expect(story < expand && expand < newApp && newApp < contract && contract < status).toBe(true);
  },
  DEMO_TIMEOUT_MS,
);
