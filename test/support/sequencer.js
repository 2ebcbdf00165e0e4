/**
 * Starts the longest test files first, so that none of them is left running
 * alone at the end while the other workers sit idle. Jest would order a
 * fresh clone (CI's) by file size, and some of the longest files are small:
 * the fault suites hold only a call into test/support/faults-suite.ts.
 */
const { statSync } = require('node:fs');
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/** About how long each file took on the 2-core machine CI runs on (2026-12-05), in seconds; the rest follow by size. */
const SECONDS = {
  'replication.test.ts': 125,
  'constraints.test.ts': 100,
  'faults-mysql.test.ts': 90,
  'lifecycle.test.ts': 90,
  'custom-phases.test.ts': 85,
  'cli.test.ts': 75,
  'rebuild.test.ts': 75,
  'backfill.test.ts': 70,
  'alter-column-indexes.test.ts': 55,
  'docs.test.ts': 50,
  'add-column-per-row.test.ts': 45,
  'crash-resume.test.ts': 45,
  'faults-postgres.test.ts': 45,
  'examples-postgres-2.test.ts': 45,
  'privileges.test.ts': 40,
  'concurrency.test.ts': 30,
  'lock-timeout.test.ts': 25,
  'bad-input.test.ts': 40,
  'user-views.test.ts': 35,
  'dual-write.test.ts': 35,
  'live.test.ts': 35,
  'demo.test.ts': 35,
};

class LongestFirst extends Sequencer {
  sort(tests) {
    const weight = (test) => [SECONDS[path.basename(test.path)] ?? 0, statSync(test.path).size];
    return [...tests].sort((a, b) => {
      const [wa, sa] = weight(a);
      const [wb, sb] = weight(b);
      return wb - wa || sb - sa;
    });
  }
}

module.exports = LongestFirst;
