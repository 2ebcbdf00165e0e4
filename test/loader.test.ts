/**
 * Loading migration files (src/migration/loader.ts): TypeScript and ES
 * modules without a build step. No database: this is about reading files.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { loadMigrations, sameFile } from '../src/migration/loader';

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
        "const expand = await Promise.resolve('SELECT 1');",
        "export default defineMigration({ operations: [op.sql({ expand, rollback: 'SELECT 1' })] });",
      ].join('\n'),
    );
    const [loaded] = await loadMigrations(dir);
    expect(loaded.migration.operations).toHaveLength(1);
  });

  test.each([
    [
      "defineMigration({ operations: [op.dropTable('t')], down: async () => {} })",
      'defineMigration: unknown option "down" (did you mean "rollback"?)',
    ],
    [
      "defineMigration({ operations: [op.createIndex('t', ['a'], { unqiue: true })] })",
      'op.createIndex("t"): unknown option "unqiue" (did you mean "unique"?)',
    ],
    [
      "defineMigration({ operations: [op.addColumn('t', 'c', { type: 'text', notNullable: true })] })",
      'op.addColumn("t", "c"): unknown option "notNullable"; it takes type, nullable, default, primaryKey, unique, up',
    ],
    [
      "defineMigration({ operations: [op.createTable('t', { columns: { id: { type: 'int', primary: true } } })] })",
      'op.createTable("t") column "id": unknown option "primary"',
    ],
    [
      "defineMigration({ operations: [op.addForeignKey('t', ['a'], { references: { table: 'u', columns: ['id'] }, onUpdate: 'cascade' })] })",
      'op.addForeignKey("t"): unknown option "onUpdate"; it takes references, name, onDelete',
    ],
    ["defineMigration({ operations: [op.sql({ up: 'SELECT 1' })] })", 'op.sql: unknown option "up" (did you mean "expand"?)'],
  ])('an option the builder does not know is a problem of the file, naming it, not dropped: %s', async (definition, message) => {
    const dir = folderWith('0001_typo.ts', `import { defineMigration, op } from 'zmigrate';\nexport default ${definition};\n`);
    // It loads (an applied migration must stay contractable); expand refuses it (bad-input.test.ts).
    const [loaded] = await loadMigrations(dir);
    expect(loaded.problems).toHaveLength(1);
    expect(loaded.problems![0]).toContain(message);
  });

  test('a checksum recorded of the file as a CRLF checkout had it, or as LF, matches the file either way', async () => {
    const lines = [
      "import { defineMigration, op } from 'zmigrate';",
      "export default defineMigration({ operations: [op.dropTable('t')] });",
      '',
    ];
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const [lf] = await loadMigrations(folderWith('0001_t.ts', lines.join('\n')));
    const [crlf] = await loadMigrations(folderWith('0001_t.ts', lines.join('\r\n')));
    for (const recorded of [sha(lines.join('\n')), sha(lines.join('\r\n'))]) {
      expect([sameFile(lf, recorded), sameFile(crlf, recorded)]).toEqual([true, true]);
    }
    expect(sameFile(lf, sha(lines.join('\n') + ' '))).toBe(false);
  });

  test('a syntax error names the file, the line and the column, once', async () => {
    const dir = folderWith(
      '0001_broken.ts',
      "import { defineMigration } from 'zmigrate';\nexport default defineMigration({ operations: [ });\n",
    );
    await expect(loadMigrations(dir)).rejects.toThrow(/^\S*0001_broken\.ts: cannot load: Unexpected token \(2:\d+\)$/);
  });
});
