import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Migrator } from '../../src';
import { run } from '../../src/cli/main';

export const BIN = path.resolve(__dirname, '..', '..', 'bin', 'zmigrate.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/** A run's exit code and its error lines, to compare whole: `{ code: 0, errors: [] }` shows what went wrong when it fails. */
export function outcome(result: CliResult): { code: number | null; errors: string[] } {
  return { code: result.code, errors: result.stderr.split('\n').filter((line) => /error/i.test(line)) };
}

/**
 * Runs a zmigrate command in this process, through the same `run` that
 * bin/zmigrate.js calls, with its own streams, environment and folder. A CLI
 * process costs a few tenths of a second of CPU to start and the suite runs
 * hundreds of commands; test/cli.test.ts and the fault suites run the real
 * process (spawnCli, startCli), and test/docs.test.ts the guides' shell commands.
 */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: cliEnv(options.env),
    cwd: options.cwd ?? process.cwd(),
  });
  return { code, signal: null, stdout, stderr };
}

/** The environment a CLI run gets: this one without colour or a database URL, plus `env`. */
export function cliEnv(env: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { ...process.env, NO_COLOR: '1', ZMIGRATE_DATABASE_URL: undefined, ...env };
}

/** Runs the built zmigrate CLI as a user would: a separate process. */
export function spawnCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: cliEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A fresh folder holding the given migration files: { '0001_x.ts': 'source' }. */
export function migrationsDir(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'zmigrate-test-'));
  const dir = path.join(root, 'migrations');
  mkdirSync(dir);
  for (const [name, source] of Object.entries(files)) writeFileSync(path.join(dir, name), source);
  return dir;
}

/** A migration file's source from its operations' source text. */
export function migrationSource(operations: string[], description = ''): string {
  return `import { defineMigration, op } from 'zmigrate';\n\nexport default defineMigration({\n  description: ${JSON.stringify(description)},\n  operations: [\n    ${operations.join(',\n    ')},\n  ],\n});\n`;
}

/**
 * Runs `work` with a Migrator in this process, then closes it: for a test's
 * starting point or a look at the state, not what it tests (a CLI process
 * costs a few tenths of a second of CPU to start, and the suite runs a thousand).
 */
export async function withMigrator<T>(url: string, dir: string, work: (migrator: Migrator) => Promise<T>): Promise<T> {
  const migrator = new Migrator({ url, dir });
  try {
    return await work(migrator);
  } finally {
    await migrator.close();
  }
}

/** Expands, then contracts, every migration of a folder, in this process. */
export async function applyMigrations(url: string, dir: string): Promise<void> {
  await withMigrator(url, dir, async (migrator) => {
    await migrator.expand();
    await migrator.contract();
  });
}

/** Whether a runner-lock holder, as a dialect describes it (`pid 12 (…`, `connection 12 (…`), is session `id`. */
export function heldBy(holder: string, id: number | string): boolean {
  return new RegExp(`^(pid|connection) ${Number(id)} \\(`).test(holder);
}
