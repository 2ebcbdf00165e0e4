/**
 * A small, bounded run of the live-deploy harness (bench/live.ts): old- and
 * new-app clients write, read and delete through expand → contract and
 * expand → rollback on both servers; the harness exits non-zero on any failed
 * request, lost, extra or wrong row, or wrong read.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { dropDatabase, uniqueName } from './support/databases';

// A database of this run's own: the harness drops and makes anew the one it is given, so a bench or
// another checkout's tests running at the same time keep theirs.
const database = uniqueName();
afterAll(async () => {
  await dropDatabase('postgres', database);
  await dropDatabase('mysql', database);
});

test('live deploy: no failed request, nothing lost or wrong, on PostgreSQL and MariaDB', () => {
  const root = path.resolve(__dirname, '..');
  const result = spawnSync(
    process.execPath,
    [
      path.join(root, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'),
      'bench/live.ts',
      ...['--seconds', '2', '--rows', '2000', '--clients', '3', '--database', database],
    ],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 180_000,
    },
  );
  const table = result.stdout.trim().split('\n');
  expect(result.stderr).toBe('');
  expect(table[0]).toMatch(/^engine\s+cycle\s+requests\s+failed\s+lost\s+extra\s+wrong rows\s+wrong reads/);
  const rows = table.slice(1).map((line) => line.split(/\s{2,}/));
  expect(rows.map((r) => `${r[0]} ${r[1]}`)).toEqual([
    'PostgreSQL expand → contract',
    'PostgreSQL expand → rollback',
    'MariaDB expand → contract',
    'MariaDB expand → rollback',
  ]);
  for (const r of rows) {
    expect(Number(r[2])).toBeGreaterThan(500);
    expect(r.slice(3, 8)).toEqual(['0', '0', '0', '0', '0']);
  }
  expect(result.status).toBe(0);
});
