import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Migrator } from '../../src';

export const BIN = path.resolve(__dirname, '..', '..', 'bin', 'zmigrate.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built zmigrate CLI as a user would: a separate process. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ZMIGRATE_DATABASE_URL: undefined, ...options.env },
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
