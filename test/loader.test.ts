/**
 * Loading migration files (src/migration/loader.ts): TypeScript and ES
 * modules without a build step. No database: this is about reading files.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadMigrations } from '../src/migration/loader';

/** A fresh folder holding one migration file, as a fresh checkout would (nothing cached for its path). */
function folderWith(name: string, source: string): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'zmigrate-loader-')), 'migrations');
  mkdirSync(dir);
  writeFileSync(path.join(dir, name), source);
  return dir;
}

describe('migration files', () => {
  test('TypeScript with types, an interface, an enum and satisfies loads, its operations intact', async () => {
    const dir = folderWith(
      '0001_widen.ts',
      [
        "import { defineMigration, op } from 'zmigrate';",
        "import type { Migration } from 'zmigrate';",
        'interface Target { table: string }',
        "const target: Target = { table: 'orders' };",
        "enum Column { Amount = 'amount' }",
        "export default defineMigration({ operations: [op.alterColumn(target.table, Column.Amount, { type: 'bigint', up: 'amount', down: 'amount' })] }) satisfies Migration;",
      ].join('\n'),
    );
    const [loaded] = await loadMigrations(dir);
    expect(loaded.name).toBe('0001_widen');
    expect(loaded.migration.operations).toHaveLength(1);
    expect(loaded.migration.operations[0]).toMatchObject({ kind: 'alterColumn', table: 'orders', column: 'amount' });
  });

  test('an ES module with top-level await loads', async () => {
    const dir = folderWith(
      '0001_raw.js',
      [
        "import { defineMigration, op } from 'zmigrate';",
        "const up = await Promise.resolve('SELECT 1');",
        "export default defineMigration({ operations: [op.sql({ up, down: 'SELECT 1' })] });",
      ].join('\n'),
    );
    const [loaded] = await loadMigrations(dir);
    expect(loaded.migration.operations).toHaveLength(1);
  });

  test('a syntax error names the file, the line and the column, once', async () => {
    const dir = folderWith(
      '0001_broken.ts',
      "import { defineMigration } from 'zmigrate';\nexport default defineMigration({ operations: [ });\n",
    );
    await expect(loadMigrations(dir)).rejects.toThrow(/^\S*0001_broken\.ts: cannot load: Unexpected token \(2:\d+\)$/);
  });
});
