/**
 * Starts the longest test files first, so that none of them is left running
 * alone at the end while the other workers sit idle. Jest would order a
 * fresh clone (CI's) by file size, and some of the longest files are small:
 * the fault suites hold only a call into test/support/faults-suite.ts.
 */
const { statSync } = require('node:fs');
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/** About how long each file took on the 2-core machine CI runs on, in seconds; the rest follow by size. */
const SECONDS = {
  'constraints.test.ts': 125,
  'examples-postgres-2.test.ts': 110,
  'faults-mysql.test.ts': 110,
  'faults-postgres.test.ts': 95,
  'lifecycle.test.ts': 95,
  'cli.test.ts': 85,
  'backfill.test.ts': 70,
  'crash-resume.test.ts': 65,
  'docs.test.ts': 65,
  'examples-mysql-2.test.ts': 65,
  'examples-mysql-1.test.ts': 60,
  'lock-timeout.test.ts': 55,
  'demo.test.ts': 55,
  'examples-postgres-1.test.ts': 55,
  'bad-input.test.ts': 40,
  'concurrency.test.ts': 35,
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
