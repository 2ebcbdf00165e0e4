/**
 * zmigrate lint: every rule on an unsafe and a safe statement (through the
 * SQL parsers and through the fallback tokenizer), the ignore comment,
 * operation misuse, the CLI with its three reporters and exit codes, and the
 * SQL zmigrate itself generates, planned on real servers, linted clean.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defineMigration, op, type Operation } from '../src';
import { lint, lintSql, lintStatements, RULES, type LintEngine, type LintPhase } from '../src/lint';
import { createAnalyzer } from '../src/lint/analyze';
import { MYSQL_LEX, splitSql } from '../src/dialects/sql-split';
import type { LoadedMigration } from '../src/migration/loader';
import { migrationSource, migrationsDir, runCli, withMigrator } from './support/cli';
import { createTestDatabase, SERVER_ENGINES, type TestDatabase } from './support/databases';

type Step = [LintPhase, string];

interface RuleCase {
  rule: string;
  engine: LintEngine;
  /** Statements run in order; the last one must be flagged. */
  unsafe: Step[];
  /** Statements run in order; none may be flagged by the rule. */
  safe: Step[];
  /** The fallback tokenizer cannot judge it (syntax errors need the parser). */
  parserOnly?: boolean;
}

const CASES: RuleCase[] = [
  {
    rule: 'create-index-without-concurrently',
    engine: 'postgres',
    unsafe: [['expand', 'CREATE INDEX orders_customer_idx ON orders (customer)']],
    safe: [['expand', 'CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer)']],
  },
  {
    rule: 'create-index-without-concurrently',
    engine: 'postgres',
    unsafe: [['expand', 'CREATE INDEX measurements_ts_idx ON measurements (ts)']],
    // A partitioned table's parent alone: no build (PostgreSQL refuses CONCURRENTLY there).
    safe: [['expand', 'CREATE INDEX measurements_ts_idx ON ONLY public.measurements USING btree (ts)']],
  },
  {
    rule: 'drop-index-without-concurrently',
    engine: 'postgres',
    unsafe: [['contract', 'DROP INDEX orders_customer_idx']],
    safe: [['contract', 'DROP INDEX CONCURRENTLY IF EXISTS orders_customer_idx']],
  },
  {
    rule: 'add-column-not-null-without-default',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders ADD COLUMN priority integer NOT NULL']],
    safe: [['expand', 'ALTER TABLE orders ADD COLUMN priority integer NOT NULL DEFAULT 0']],
  },
  {
    rule: 'add-column-not-null-without-default',
    engine: 'mysql',
    unsafe: [['expand', 'ALTER TABLE orders ADD COLUMN priority int NOT NULL, LOCK=NONE']],
    safe: [['expand', 'ALTER TABLE orders ADD COLUMN priority int NOT NULL DEFAULT 0, LOCK=NONE']],
  },
  {
    rule: 'add-column-volatile-default',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid()']],
    safe: [['expand', 'ALTER TABLE orders ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()']],
  },
  {
    rule: 'add-column-volatile-default',
    engine: 'mysql',
    unsafe: [['expand', 'ALTER TABLE orders ADD COLUMN token char(36) DEFAULT (uuid()), LOCK=NONE']],
    safe: [['expand', 'ALTER TABLE orders ADD COLUMN created_at timestamp NULL DEFAULT CURRENT_TIMESTAMP, LOCK=NONE']],
  },
  {
    rule: 'changing-column-type',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders ALTER COLUMN amount TYPE bigint']],
    safe: [['expand', 'ALTER TABLE orders ADD COLUMN amount_new bigint']],
  },
  {
    rule: 'changing-column-type',
    engine: 'mysql',
    unsafe: [['expand', 'ALTER TABLE orders MODIFY COLUMN amount bigint, LOCK=NONE']],
    safe: [['contract', 'ALTER TABLE orders MODIFY COLUMN amount bigint, LOCK=NONE']],
  },
  {
    rule: 'column-type-change-rewrites-table',
    engine: 'postgres',
    unsafe: [['contract', 'ALTER TABLE orders ALTER COLUMN amount SET DATA TYPE bigint']],
    safe: [['contract', 'ALTER TABLE orders RENAME COLUMN amount_new TO amount']],
  },
  {
    rule: 'rename-table-in-expand',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders RENAME TO purchases']],
    safe: [['contract', 'ALTER TABLE orders RENAME TO purchases']],
  },
  {
    rule: 'rename-table-in-expand',
    engine: 'mysql',
    unsafe: [['expand', 'RENAME TABLE orders TO purchases']],
    safe: [['contract', 'RENAME TABLE orders TO purchases']],
  },
  {
    rule: 'rename-column-in-expand',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders RENAME COLUMN customer TO customer_name']],
    safe: [['contract', 'ALTER TABLE orders RENAME COLUMN customer TO customer_name']],
  },
  {
    rule: 'rename-column-in-expand',
    engine: 'mysql',
    unsafe: [['expand', 'ALTER TABLE orders CHANGE customer customer_name varchar(100), LOCK=NONE']],
    safe: [['contract', 'ALTER TABLE orders RENAME COLUMN customer TO customer_name, LOCK=NONE']],
  },
  {
    rule: 'drop-table-in-expand',
    engine: 'postgres',
    unsafe: [['expand', 'DROP TABLE IF EXISTS old_orders']],
    safe: [['contract', 'DROP TABLE IF EXISTS old_orders']],
  },
  {
    rule: 'drop-table-in-expand',
    engine: 'mysql',
    unsafe: [['expand', 'DROP TABLE `old_orders`']],
    safe: [['rollback', 'DROP TABLE `old_orders`']],
  },
  {
    rule: 'drop-column-in-expand',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders DROP COLUMN legacy']],
    safe: [['contract', 'ALTER TABLE orders DROP COLUMN legacy']],
  },
  {
    rule: 'drop-column-in-expand',
    engine: 'mysql',
    unsafe: [['expand', 'ALTER TABLE orders DROP COLUMN legacy, LOCK=NONE']],
    safe: [['contract', 'ALTER TABLE orders DROP COLUMN legacy, LOCK=NONE']],
  },
  {
    rule: 'add-foreign-key-without-not-valid',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)']],
    safe: [
      ['expand', 'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID'],
    ],
  },
  {
    rule: 'add-check-without-not-valid',
    engine: 'postgres',
    unsafe: [['contract', 'ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0)']],
    safe: [['expand', 'ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID']],
  },
  {
    rule: 'validate-constraint-in-same-transaction',
    engine: 'postgres',
    unsafe: [
      [
        'expand',
        'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID; ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk',
      ],
    ],
    safe: [
      // Two strings: two op.sql operations, two transactions.
      ['expand', 'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID'],
      ['expand', 'ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk'],
    ],
  },
  {
    rule: 'add-unique-constraint-without-index',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders ADD CONSTRAINT orders_code_key UNIQUE (code)']],
    safe: [
      ['expand', 'CREATE UNIQUE INDEX CONCURRENTLY orders_code_key ON orders (code)'],
      ['contract', 'ALTER TABLE orders ADD CONSTRAINT orders_code_key UNIQUE USING INDEX orders_code_key'],
    ],
  },
  {
    rule: 'rebuild-blocks-table',
    engine: 'postgres',
    unsafe: [['contract', 'REINDEX TABLE orders']],
    safe: [['contract', 'REINDEX TABLE CONCURRENTLY orders']],
  },
  {
    rule: 'lock-table',
    engine: 'postgres',
    unsafe: [['expand', 'LOCK TABLE orders IN SHARE MODE']],
    safe: [['expand', 'LOCK TABLE orders IN ROW EXCLUSIVE MODE']],
  },
  {
    rule: 'lock-table',
    engine: 'mysql',
    unsafe: [['expand', 'LOCK TABLES orders WRITE']],
    safe: [['expand', 'UNLOCK TABLES']],
  },
  {
    rule: 'truncate-in-expand',
    engine: 'postgres',
    unsafe: [['expand', 'TRUNCATE orders']],
    safe: [['contract', 'TRUNCATE orders']],
  },
  {
    rule: 'truncate-in-expand',
    engine: 'mysql',
    unsafe: [['expand', 'TRUNCATE TABLE orders']],
    safe: [['expand', 'CREATE TABLE audit (id bigint PRIMARY KEY); TRUNCATE TABLE audit']],
  },
  {
    rule: 'set-not-null-in-expand',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders ALTER COLUMN note SET NOT NULL']],
    safe: [['expand', 'ALTER TABLE orders ADD CONSTRAINT orders_note_not_null CHECK (note IS NOT NULL) NOT VALID']],
  },
  {
    rule: 'set-not-null-without-validated-check',
    engine: 'postgres',
    unsafe: [
      // Added but never validated: PostgreSQL still scans.
      ['expand', 'ALTER TABLE orders ADD CONSTRAINT orders_note_not_null CHECK (note IS NOT NULL) NOT VALID'],
      ['contract', 'ALTER TABLE orders ALTER COLUMN note SET NOT NULL'],
    ],
    safe: [
      ['expand', 'ALTER TABLE orders ADD CONSTRAINT orders_note_not_null CHECK (note IS NOT NULL) NOT VALID'],
      ['contract', 'ALTER TABLE orders VALIDATE CONSTRAINT orders_note_not_null; ALTER TABLE orders ALTER COLUMN note SET NOT NULL'],
    ],
  },
  {
    rule: 'lock-timeout-override',
    engine: 'postgres',
    unsafe: [['expand', 'SET lock_timeout = 0']],
    safe: [['expand', "SET LOCAL lock_timeout = '200ms'"]],
  },
  {
    rule: 'lock-timeout-override',
    engine: 'mysql',
    unsafe: [['contract', 'SET SESSION lock_wait_timeout = 31536000']],
    safe: [['contract', 'SET SESSION lock_wait_timeout = 1']],
  },
  {
    rule: 'transaction-control',
    engine: 'postgres',
    unsafe: [['expand', 'COMMIT']],
    safe: [['expand', "UPDATE orders SET note = '' WHERE note IS NULL"]],
  },
  {
    rule: 'transaction-control',
    engine: 'mysql',
    unsafe: [['expand', 'START TRANSACTION']],
    safe: [['expand', "UPDATE orders SET note = '' WHERE note IS NULL"]],
  },
  {
    rule: 'mysql-algorithm-copy',
    engine: 'mysql',
    unsafe: [['expand', 'ALTER TABLE orders ADD COLUMN note text NULL, ALGORITHM=COPY']],
    safe: [['expand', 'ALTER TABLE orders ADD COLUMN note text NULL, ALGORITHM=INSTANT']],
  },
  {
    rule: 'mysql-lock-shared-or-exclusive',
    engine: 'mysql',
    unsafe: [['contract', 'ALTER TABLE orders ADD INDEX orders_note_idx (note), LOCK=SHARED']],
    safe: [['contract', 'ALTER TABLE orders ADD INDEX orders_note_idx (note), LOCK=NONE']],
  },
  {
    rule: 'mysql-alter-not-online',
    engine: 'mysql',
    unsafe: [['expand', 'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)']],
    safe: [
      [
        'expand',
        'SET STATEMENT foreign_key_checks = 0 FOR ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id), ALGORITHM=INPLACE, LOCK=NONE',
      ],
    ],
  },
  {
    rule: 'mysql-alter-without-lock-none',
    engine: 'mysql',
    unsafe: [['expand', 'ALTER TABLE orders ADD COLUMN priority int NULL INVISIBLE']],
    safe: [
      ['expand', 'ALTER TABLE orders ADD COLUMN priority int NULL INVISIBLE, LOCK=NONE'],
      // MariaDB: ONLINE is LOCK=NONE.
      ['expand', 'ALTER ONLINE TABLE orders ADD COLUMN rank int NULL'],
      ['expand', 'ALTER ONLINE IGNORE TABLE orders ADD COLUMN score int NULL'],
      // Metadata only: instant whatever the options.
      ['contract', 'ALTER TABLE orders ALTER COLUMN priority SET DEFAULT 0'],
    ],
  },
  {
    rule: 'syntax-error',
    engine: 'postgres',
    unsafe: [['expand', 'ALTER TABLE orders ADD COLUMN']],
    safe: [['expand', 'ALTER TABLE orders ADD COLUMN note text']],
    parserOnly: true,
  },
];

async function findings(steps: Step[], engine: LintEngine, parser: 'auto' | 'tokens' = 'auto') {
  return lintStatements(
    steps.map(([phase, sql]) => ({ phase, sql })),
    { engine, parser },
  );
}

describe('lint rules', () => {
  test('every statement rule has a case for each engine it applies to, and the docs explain every rule', () => {
    const docs = readFileSync(path.resolve(__dirname, '..', 'docs', 'lint.md'), 'utf8');
    for (const rule of RULES) {
      expect(docs).toContain(`### \`${rule.id}\``);
      expect(rule.message.length).toBeGreaterThan(0);
      expect(rule.why.length).toBeGreaterThan(0);
      expect(rule.instead.length).toBeGreaterThan(0);
      if (rule.scope === 'operation') continue;
      for (const engine of rule.engines) expect(CASES.filter((c) => c.rule === rule.id && c.engine === engine)).not.toHaveLength(0);
    }
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
  });

  describe.each(CASES.map((c) => [`${c.rule} (${c.engine})`, c] as const))('%s', (_name, c) => {
    const parsers: Array<'auto' | 'tokens'> = c.parserOnly ? ['auto'] : ['auto', 'tokens'];
    test.each(parsers)('flags the unsafe statement and passes the safe one (parser: %s)', async (parser) => {
      const unsafe = await findings(c.unsafe, c.engine, parser);
      const last = c.unsafe[c.unsafe.length - 1];
      expect(unsafe.filter((f) => f.rule === c.rule)).toEqual([
        expect.objectContaining({ rule: c.rule, phase: last[0], statement: expect.stringContaining(last[1].split(';').pop()!.trim()) }),
      ]);
      const safe = await findings(c.safe, c.engine, parser);
      expect(safe.filter((f) => f.rule === c.rule)).toEqual([]);
    });
  });

  test('the message carries the rule text and what it found', async () => {
    expect(await lintSql('CREATE INDEX orders_customer_idx ON orders (customer)', { engine: 'postgres', phase: 'expand' })).toEqual([
      {
        phase: 'expand',
        rule: 'create-index-without-concurrently',
        message: 'CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds (on orders)',
        statement: 'CREATE INDEX orders_customer_idx ON orders (customer)',
      },
    ]);
  });

  test('rules apply only on their engines: MySQL has no CONCURRENTLY and PostgreSQL no LOCK=NONE', async () => {
    for (const parser of ['auto', 'tokens'] as const) {
      const index = await lintSql('CREATE INDEX orders_customer_idx ON orders (customer)', { engine: 'mysql', phase: 'expand', parser });
      expect(index).toEqual([]);
      const copy = await lintSql('CREATE INDEX orders_customer_idx ON orders (customer) ALGORITHM=COPY LOCK=SHARED', {
        engine: 'mysql',
        phase: 'expand',
        parser,
      });
      expect(copy.map((f) => f.rule)).toEqual(['mysql-algorithm-copy', 'mysql-lock-shared-or-exclusive']);
    }
    const alter = await lintSql('ALTER TABLE orders ADD COLUMN note text', { engine: 'postgres', phase: 'expand' });
    expect(alter).toEqual([]);
  });

  test('mysql-alter-without-lock-none advises ALGORITHM=INSTANT first: LOCK=NONE turns an instant change into a rebuild on MySQL 8', () => {
    const docs = readFileSync(path.resolve(__dirname, '..', 'docs', 'lint.md'), 'utf8');
    const section = docs.slice(docs.indexOf('### `mysql-alter-without-lock-none`')).split('\n### ')[0];
    for (const advice of [
      RULES.find((r) => r.id === 'mysql-alter-without-lock-none')!.instead,
      section.slice(section.indexOf('**Instead:**')),
    ]) {
      const text = advice.replace(/\s+/g, ' ');
      expect(text.indexOf('ALGORITHM=INSTANT')).toBeGreaterThan(-1);
      expect(text.indexOf('ALGORITHM=INSTANT')).toBeLessThan(text.indexOf('LOCK=NONE'));
      expect(text).toContain('INPLACE');
    }
  });

  test('more changes MySQL/MariaDB cannot make online', async () => {
    for (const sql of [
      'ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0)',
      'ALTER TABLE orders ADD FULLTEXT INDEX orders_note_ft (note)',
      'ALTER TABLE orders CONVERT TO CHARACTER SET utf8mb4',
      'ALTER TABLE orders DROP PRIMARY KEY',
    ]) {
      for (const parser of ['auto', 'tokens'] as const) {
        const found = await lintSql(sql, { engine: 'mysql', phase: 'contract', parser });
        expect({ sql, parser, rules: found.map((f) => f.rule) }).toEqual({ sql, parser, rules: ['mysql-alter-not-online'] });
      }
    }
    const replaced = await lintSql('ALTER TABLE orders DROP PRIMARY KEY, ADD PRIMARY KEY (id, region), LOCK=NONE', {
      engine: 'mysql',
      phase: 'contract',
    });
    expect(replaced).toEqual([]);
  });

  test('PostgreSQL statements that lock a table for a rebuild, or at all, or empty it', async () => {
    const unsafe: Array<[string, string]> = [
      ['REINDEX TABLE orders', 'REINDEX TABLE on orders'],
      ['REINDEX (VERBOSE) INDEX orders_pkey', 'REINDEX INDEX orders_pkey'],
      ['REINDEX SCHEMA public', 'REINDEX SCHEMA'],
      ['VACUUM FULL orders', 'VACUUM FULL on orders'],
      ['VACUUM (FULL, ANALYZE) public.orders', 'VACUUM FULL on public.orders'],
      ['CLUSTER orders USING orders_pkey', 'CLUSTER on orders'],
      ['CLUSTER', 'CLUSTER'],
      ['REFRESH MATERIALIZED VIEW order_totals', 'REFRESH MATERIALIZED VIEW on order_totals'],
      ['ALTER TABLE orders SET TABLESPACE fast_disk', 'SET TABLESPACE on orders'],
      ['ALTER TABLE orders SET LOGGED', 'SET LOGGED on orders'],
      ['ALTER TABLE orders SET UNLOGGED', 'SET UNLOGGED on orders'],
      [
        'ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room WITH =, during WITH &&)',
        'ADD CONSTRAINT … EXCLUDE on bookings',
      ],
      ['LOCK TABLE orders', 'IN ACCESS EXCLUSIVE MODE on orders'],
      ['LOCK orders IN SHARE ROW EXCLUSIVE MODE NOWAIT', 'IN SHARE ROW EXCLUSIVE MODE on orders'],
      ['TRUNCATE TABLE ONLY orders RESTART IDENTITY', 'orders'],
    ];
    const safe = [
      'REINDEX INDEX CONCURRENTLY orders_pkey',
      'REINDEX (CONCURRENTLY) TABLE orders',
      'VACUUM orders',
      'VACUUM (ANALYZE) orders',
      'ANALYZE orders',
      'REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals',
      'LOCK TABLE orders IN ROW EXCLUSIVE MODE',
      'LOCK TABLE orders IN SHARE UPDATE EXCLUSIVE MODE',
      'ALTER TABLE orders SET (fillfactor = 90)',
    ];
    for (const parser of ['auto', 'tokens'] as const) {
      for (const [sql, detail] of unsafe) {
        const found = await lintSql(sql, { engine: 'postgres', phase: 'expand', parser });
        expect({ sql, parser, messages: found.map((f) => f.message.replace(/^.*\((.*)\)$/, '$1')) }).toEqual({
          sql,
          parser,
          messages: [detail],
        });
      }
      for (const sql of safe)
        expect({ sql, parser, found: await lintSql(sql, { engine: 'postgres', phase: 'expand', parser }) }).toEqual({
          sql,
          parser,
          found: [],
        });
      // A table created earlier in the same phase: nothing uses it yet.
      const fresh = await lintSql(
        'CREATE TABLE audit (id bigint PRIMARY KEY, at timestamptz); ALTER TABLE audit SET UNLOGGED; LOCK TABLE audit; TRUNCATE audit; CLUSTER audit USING audit_pkey; REINDEX TABLE audit',
        { engine: 'postgres', phase: 'expand', parser },
      );
      expect({ parser, fresh }).toEqual({ parser, fresh: [] });
    }
  });

  test('MySQL/MariaDB table locks: LOCK TABLES and FLUSH TABLES … WITH READ LOCK', async () => {
    const unsafe: Array<[string, string[]]> = [
      ['LOCK TABLES orders READ', ['READ on orders']],
      ['LOCK TABLES shop.orders AS o LOW_PRIORITY WRITE, customers READ LOCAL', ['WRITE on shop.orders']],
      ['FLUSH TABLES WITH READ LOCK', ['READ on every table']],
      ['FLUSH TABLES orders, customers WITH READ LOCK', ['READ on orders']],
      ['FLUSH TABLES orders FOR EXPORT', ['READ on orders']],
    ];
    for (const parser of ['auto', 'tokens'] as const) {
      for (const [sql, details] of unsafe) {
        const found = await lintSql(sql, { engine: 'mysql', phase: 'contract', parser });
        expect({ sql, parser, found: found.map((f) => [f.rule, f.message.replace(/^.*\((.*)\)$/, '$1')]) }).toEqual({
          sql,
          parser,
          found: details.map((d) => ['lock-table', d]),
        });
      }
      for (const sql of ['UNLOCK TABLES', 'FLUSH TABLES', 'FLUSH TABLES orders'])
        expect({ sql, parser, found: await lintSql(sql, { engine: 'mysql', phase: 'contract', parser }) }).toEqual({
          sql,
          parser,
          found: [],
        });
    }
  });

  test('MySQL/MariaDB under ANSI_QUOTES: a "double-quoted" string where a name goes is the name', async () => {
    const cases: Array<[string, string]> = [
      ['ALTER ONLINE TABLE "orders" DROP COLUMN "legacy"', 'drop-column-in-expand: orders.legacy'],
      ['ALTER TABLE "shop"."orders" ADD COLUMN "n" int NOT NULL, LOCK=NONE', 'add-column-not-null-without-default: shop.orders.n'],
      ['RENAME TABLE "orders" TO "orders_old"', 'rename-table-in-expand: orders to orders_old'],
    ];
    for (const parser of ['auto', 'tokens'] as const) {
      for (const [sql, finding] of cases) {
        const found = await lintSql(sql, { engine: 'mysql', phase: 'expand', parser });
        expect({ sql, parser, found: found.map((f) => `${f.rule}: ${f.message.replace(/^.*\((.*)\)$/, '$1')}`) }).toEqual({
          sql,
          parser,
          found: [finding],
        });
      }
      // A string where a value goes is still a value.
      const value = await lintSql('ALTER TABLE orders ADD COLUMN note varchar(10) NOT NULL DEFAULT "x", LOCK=NONE', {
        engine: 'mysql',
        phase: 'expand',
        parser,
      });
      expect({ parser, value }).toEqual({ parser, value: [] });
    }
  });

  test('what the texts say of REINDEX and ADD COLUMN … REFERENCES holds on PostgreSQL', async () => {
    const rule = (id: string) => RULES.find((r) => r.id === id)!;
    expect(rule('rebuild-blocks-table').why).toContain('virtually every read too');
    expect(rule('add-foreign-key-without-not-valid').why).toContain('ACCESS EXCLUSIVE lock ADD COLUMN takes');
    expect(rule('add-foreign-key-without-not-valid').instead).toContain('ADD COLUMN without REFERENCES, then ADD CONSTRAINT');
    // The advice lints clean; NOT VALID on the column itself is not SQL.
    const advised =
      'ALTER TABLE kids ADD COLUMN parent_id int; ALTER TABLE kids ADD CONSTRAINT kids_parent_fk FOREIGN KEY (parent_id) REFERENCES parents (id) NOT VALID';
    expect(await lintSql(advised, { engine: 'postgres', phase: 'expand' })).toEqual([]);
    const inline = await lintSql('ALTER TABLE kids ADD COLUMN parent_id int REFERENCES parents (id) NOT VALID', {
      engine: 'postgres',
      phase: 'expand',
    });
    expect(inline.map((f) => f.rule)).toContain('syntax-error');
    const db = await createTestDatabase('postgres');
    try {
      await db.knex.raw(
        'CREATE TABLE parents (id int PRIMARY KEY); CREATE TABLE kids (id int PRIMARY KEY, v int); CREATE INDEX kids_v_idx ON kids (v)',
      );
      await db.knex.raw('INSERT INTO kids SELECT g, g FROM generate_series(1, 100) g');
      const locksWhile = async (sql: string) => {
        const trx = await db.knex.transaction();
        try {
          await trx.raw(sql);
          const { rows } = (await trx.raw(
            "SELECT mode FROM pg_locks WHERE relation = 'kids'::regclass AND pid = pg_backend_pid() ORDER BY mode",
          )) as { rows: Array<{ mode: string }> };
          // A read that does not use kids_v_idx, from another session.
          const read = await db.knex
            .transaction(async (other) => {
              await other.raw("SET LOCAL lock_timeout = '200ms'");
              await other.raw('SELECT count(*) FROM kids WHERE id = 5');
            })
            .then(
              () => 'read',
              (error: Error) => error.message,
            );
          return { modes: rows.map((r) => r.mode), read };
        } finally {
          await trx.rollback();
        }
      };
      expect(await locksWhile('REINDEX INDEX kids_v_idx')).toEqual({ modes: ['ShareLock'], read: expect.stringContaining('lock timeout') });
      expect(await locksWhile('ALTER TABLE kids ADD COLUMN parent_id int REFERENCES parents (id)')).toEqual({
        modes: expect.arrayContaining(['AccessExclusiveLock']),
        read: expect.stringContaining('lock timeout'),
      });
    } finally {
      await db.drop();
    }
  });

  test('savepoints are not transaction control; an explicit ALGORITHM other than COPY cannot fall back to a copy', async () => {
    for (const parser of ['auto', 'tokens'] as const) {
      for (const engine of ['postgres', 'mysql'] as const) {
        const rules = async (sql: string) => (await lintSql(sql, { engine, phase: 'expand', parser })).map((f) => f.rule);
        for (const sql of [
          'SAVEPOINT before_fill',
          'RELEASE SAVEPOINT before_fill',
          'ROLLBACK TO SAVEPOINT before_fill',
          'ROLLBACK WORK TO before_fill',
        ])
          expect({ sql, engine, parser, rules: await rules(sql) }).toEqual({ sql, engine, parser, rules: [] });
        for (const sql of ['BEGIN', 'START TRANSACTION', 'COMMIT', 'ROLLBACK'])
          expect({ sql, engine, parser, rules: await rules(sql) }).toEqual({ sql, engine, parser, rules: ['transaction-control'] });
      }
      const pg = await lintSql("END; ABORT; PREPARE TRANSACTION 'fill'", { engine: 'postgres', phase: 'expand', parser });
      expect({ parser, rules: pg.map((f) => f.rule) }).toEqual({
        parser,
        rules: ['transaction-control', 'transaction-control', 'transaction-control'],
      });
      const mysql = async (sql: string) => (await lintSql(sql, { engine: 'mysql', phase: 'expand', parser })).map((f) => f.rule);
      for (const algorithm of ['INPLACE', 'INSTANT', 'NOCOPY'])
        expect({ parser, algorithm, rules: await mysql(`ALTER TABLE orders ADD COLUMN note text, ALGORITHM=${algorithm}`) }).toEqual({
          parser,
          algorithm,
          rules: [],
        });
      expect({ parser, rules: await mysql('ALTER TABLE orders ADD COLUMN note text, ALGORITHM=DEFAULT') }).toEqual({
        parser,
        rules: ['mysql-alter-without-lock-none'],
      });
    }
  });

  test('per-row values in ADD COLUMN: serial, identity, stored generated columns, AUTO_INCREMENT', async () => {
    for (const sql of [
      'ALTER TABLE orders ADD COLUMN seq bigserial',
      'ALTER TABLE orders ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY',
      'ALTER TABLE orders ADD COLUMN total numeric GENERATED ALWAYS AS (amount * 2) STORED',
      'ALTER TABLE orders ADD COLUMN r double precision DEFAULT random()',
      "ALTER TABLE orders ADD COLUMN n bigint DEFAULT nextval('orders_n_seq')",
      'ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT clock_timestamp()',
    ]) {
      const found = await lintSql(sql, { engine: 'postgres', phase: 'expand' });
      expect({ sql, rules: found.map((f) => f.rule) }).toEqual({ sql, rules: ['add-column-volatile-default'] });
    }
    const found = await lintSql('ALTER TABLE orders ADD COLUMN seq int NOT NULL AUTO_INCREMENT UNIQUE, LOCK=NONE', {
      engine: 'mysql',
      phase: 'expand',
    });
    expect(found.map((f) => f.rule)).toContain('add-column-volatile-default');
  });

  test('lock timeouts: reset, disabled, raised, and set_config; a lower one is fine', async () => {
    const pg = async (sql: string) => (await lintSql(sql, { engine: 'postgres', phase: 'expand' })).map((f) => f.message);
    expect(await pg('RESET lock_timeout')).toEqual([expect.stringContaining('lock_timeout reset to the server default')]);
    expect(await pg('RESET ALL')).toEqual([expect.stringContaining('reset to the server default')]);
    expect(await pg('SET lock_timeout TO DEFAULT')).toEqual([expect.stringContaining('reset to the server default')]);
    expect(await pg("SET lock_timeout = '1min'")).toEqual([expect.stringContaining("lock_timeout = 60 s, above zmigrate's 500 ms")]);
    expect(await pg("SELECT set_config('lock_timeout', '0', false)")).toEqual([expect.stringContaining('lock_timeout = 0 waits forever')]);
    expect(await pg('SET lock_timeout = 100')).toEqual([]);
    expect(await pg('SET statement_timeout = 0')).toEqual([]);
    // The limit is the one zmigrate runs with.
    expect(await lintSql("SET lock_timeout = '2s'", { engine: 'postgres', phase: 'expand', lockTimeoutMs: 5000 })).toEqual([]);
    const my = async (sql: string) => (await lintSql(sql, { engine: 'mysql', phase: 'expand' })).map((f) => f.message);
    expect(await my('SET @@session.lock_wait_timeout = DEFAULT')).toEqual([
      expect.stringContaining('lock_wait_timeout reset to the server default'),
    ]);
    expect(await my('SET GLOBAL innodb_lock_wait_timeout = 120')).toEqual([expect.stringContaining('for every new session')]);
    // 0 waits at most 1 s on MySQL (clamped) and not at all on MariaDB (NOWAIT; test 'lock_wait_timeout = 0 does not wait forever on MariaDB').
    expect(await my('SET SESSION lock_wait_timeout = 0')).toEqual([]);
    expect(await my('SET SESSION innodb_lock_wait_timeout = 0')).toEqual([]);
    expect(await my('SET SESSION lock_wait_timeout = 2')).toEqual([
      expect.stringContaining("lock_wait_timeout = 2 s, above zmigrate's 1 s"),
    ]);
  });

  test('lock_wait_timeout = 0 does not wait forever on MariaDB: a statement that needs a held lock fails', async () => {
    const db = await createTestDatabase('mysql');
    try {
      await db.knex.raw('CREATE TABLE waits (id int PRIMARY KEY, v int)');
      await db.knex.raw('INSERT INTO waits VALUES (1, 1)');
      const holder = await db.knex.transaction();
      try {
        await holder.raw('UPDATE waits SET v = 2 WHERE id = 1');
        for (const [setting, sql] of [
          ['lock_wait_timeout', 'ALTER TABLE waits ADD COLUMN w int'],
          ['innodb_lock_wait_timeout', 'UPDATE waits SET v = 3 WHERE id = 1'],
        ]) {
          const outcome = await db.knex.transaction(async (trx) => {
            await trx.raw(`SET SESSION ${setting} = 0`);
            return trx.raw(sql).then(
              () => 'ran',
              (error: Error) => error.message,
            );
          });
          expect({ setting, outcome }).toEqual({ setting, outcome: expect.stringContaining('Lock wait timeout exceeded') });
        }
      } finally {
        await holder.rollback();
      }
    } finally {
      await db.drop();
    }
  });

  test('a table created earlier in the same phase is new: nothing uses it yet', async () => {
    const create = 'CREATE TABLE audit (id bigint PRIMARY KEY, at timestamptz, actor bigint)';
    const sameExpand = await findings(
      [
        ['expand', create],
        [
          'expand',
          'CREATE INDEX audit_at_idx ON audit (at); ALTER TABLE audit ADD CONSTRAINT audit_actor_fk FOREIGN KEY (actor) REFERENCES users (id)',
        ],
      ],
      'postgres',
    );
    expect(sameExpand).toEqual([]);
    // By contract the new app uses it.
    const later = await findings(
      [
        ['expand', create],
        ['contract', 'CREATE INDEX audit_at_idx ON audit (at)'],
      ],
      'postgres',
    );
    expect(later.map((f) => f.rule)).toEqual(['create-index-without-concurrently']);
    const mysql = await findings(
      [['expand', 'CREATE TABLE audit (id bigint PRIMARY KEY, at datetime); ALTER TABLE audit ADD INDEX audit_at_idx (at)']],
      'mysql',
    );
    expect(mysql).toEqual([]);
  });

  test('a new table is the one created, in its schema; CREATE TABLE IF NOT EXISTS may find it in use', async () => {
    for (const parser of ['auto', 'tokens'] as const) {
      const rules = async (sql: string, engine: LintEngine = 'postgres') =>
        (await lintSql(sql, { engine, phase: 'expand', parser })).map((f) => [f.rule, f.statement]);
      const index = 'CREATE INDEX orders_at_idx ON public.orders (at)';
      expect({ parser, found: await rules(`CREATE TABLE archive.orders (LIKE public.orders); ${index}`) }).toEqual({
        parser,
        found: [['create-index-without-concurrently', index]],
      });
      expect({ parser, found: await rules(`CREATE TABLE IF NOT EXISTS orders (id bigint, at timestamptz); ${index}`) }).toEqual({
        parser,
        found: [['create-index-without-concurrently', index]],
      });
      // Renamed within its schema, it is still new.
      expect({
        parser,
        found: await rules(
          `CREATE TABLE public.orders_new (id bigint, at timestamptz); ALTER TABLE public.orders_new RENAME TO orders; ${index}`,
        ),
      }).toEqual({ parser, found: [] });
      expect({ parser, found: await rules(`CREATE TABLE public.orders (id bigint, at timestamptz); ${index}`) }).toEqual({
        parser,
        found: [],
      });
      const drop = 'ALTER TABLE shop.orders DROP COLUMN legacy, LOCK=NONE';
      expect({ parser, found: await rules(`CREATE TABLE archive.orders (id bigint, legacy text); ${drop}`, 'mysql') }).toEqual({
        parser,
        found: [['drop-column-in-expand', drop]],
      });
      expect({ parser, found: await rules(`CREATE TABLE IF NOT EXISTS shop.orders (id bigint, legacy text); ${drop}`, 'mysql') }).toEqual({
        parser,
        found: [['drop-column-in-expand', drop]],
      });
    }
  });

  test('a validated NOT NULL check follows its column through a rename (as op.alterColumn does it)', async () => {
    const found = await findings(
      [
        ['expand', 'ALTER TABLE "public"."orders" ADD CONSTRAINT "_zm_amount_not_null" CHECK ("_zm_amount" IS NOT NULL) NOT VALID'],
        ['contract', 'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "_zm_amount_not_null"'],
        [
          'contract',
          'ALTER TABLE "public"."orders" DROP COLUMN "amount"; ALTER TABLE "public"."orders" RENAME COLUMN "_zm_amount" TO "amount"',
        ],
        ['contract', 'ALTER TABLE "public"."orders" ALTER COLUMN "amount" SET NOT NULL'],
      ],
      'postgres',
    );
    expect(found).toEqual([]);
  });

  test('ADD PRIMARY KEY USING INDEX runs SET NOT NULL on the columns of the index that may hold NULLs', async () => {
    const build = 'CREATE UNIQUE INDEX CONCURRENTLY orders_code_uq ON public.orders USING btree (code)';
    const attach = 'ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_code_uq';
    const check = 'ALTER TABLE orders ADD CONSTRAINT orders_code_not_null CHECK (code IS NOT NULL) NOT VALID';
    const detail = 'orders.code, by PRIMARY KEY USING INDEX orders_code_uq';
    for (const parser of ['auto', 'tokens'] as const) {
      const found = async (steps: Step[]) =>
        (await findings(steps, 'postgres', parser)).map((f) => [f.phase, f.rule, f.message.replace(/^.*\((.*)\)$/, '$1')]);
      expect({ parser, found: await found([['expand', `${build}; ${attach}`]]) }).toEqual({
        parser,
        found: [['expand', 'set-not-null-in-expand', detail]],
      });
      expect({
        parser,
        found: await found([
          ['expand', build],
          ['contract', attach],
        ]),
      }).toEqual({ parser, found: [['contract', 'set-not-null-without-validated-check', detail]] });
      // A validated check proves the column holds no NULLs; a column made NOT NULL before has nothing to check.
      const safe = [
        await found([
          ['expand', `${build}; ${check}`],
          ['contract', `ALTER TABLE orders VALIDATE CONSTRAINT orders_code_not_null; ${attach}`],
        ]),
        await found([
          ['expand', `${build}; ${check}`],
          ['contract', 'ALTER TABLE orders VALIDATE CONSTRAINT orders_code_not_null; ALTER TABLE orders ALTER COLUMN code SET NOT NULL'],
          ['contract', attach],
        ]),
        await found([['expand', `ALTER TABLE orders ADD COLUMN code text NOT NULL DEFAULT ''; ${build}; ${attach}`]]),
        await found([['expand', `${build}; ALTER TABLE orders ADD CONSTRAINT orders_code_key UNIQUE USING INDEX orders_code_uq`]]),
      ];
      expect({ parser, safe }).toEqual({ parser, safe: [[], [], [], []] });
    }
  });

  test('the parsers handle what they can; the tokenizer takes the rest', async () => {
    const pg = await createAnalyzer('postgres');
    expect(pg.statements('CREATE INDEX i ON t (a); ALTER TABLE t ADD COLUMN')).toEqual([
      expect.objectContaining({ parser: 'libpg-query' }),
      expect.objectContaining({ parser: 'tokens', syntaxError: 'syntax error at end of input' }),
    ]);
    const mysql = await createAnalyzer('mysql');
    const parsed = mysql.statements(
      'ALTER TABLE t ADD COLUMN a int NULL, LOCK=NONE; ALTER TABLE t ADD COLUMN b int NULL INVISIBLE, LOCK=NONE; CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET @x = 0; END',
    );
    expect(parsed.map((s) => s.parser)).toEqual(['node-sql-parser', 'tokens', 'tokens']);
    // A trigger body's SET is not a session setting.
    expect(parsed[2].facts).toEqual([{ kind: 'ddl', what: 'CREATE TRIGGER' }]);
  });
});

describe('ignore comments', () => {
  const index = 'CREATE INDEX orders_customer_idx ON orders (customer)';

  test('-- zmigrate-lint-ignore <rule> before a statement silences that rule on it alone', async () => {
    const sql = `-- zmigrate-lint-ignore create-index-without-concurrently\n${index};\n${index.replace('orders_customer_idx', 'orders_customer_idx2')}`;
    const found = await lintSql(sql, { engine: 'postgres', phase: 'expand' });
    expect(found.map((f) => f.statement)).toEqual(['CREATE INDEX orders_customer_idx2 ON orders (customer)']);
  });

  test('/* zmigrate-lint-ignore a, b */ names several rules; other rules still apply', async () => {
    const sql = '/* zmigrate-lint-ignore drop-column-in-expand, mysql-alter-without-lock-none */ ALTER TABLE orders DROP COLUMN legacy';
    expect(await lintSql(sql, { engine: 'mysql', phase: 'expand' })).toEqual([]);
    const other = '/* zmigrate-lint-ignore drop-column-in-expand */ ALTER TABLE orders DROP COLUMN legacy';
    expect((await lintSql(other, { engine: 'mysql', phase: 'expand' })).map((f) => f.rule)).toEqual(['mysql-alter-without-lock-none']);
    const hash = '# zmigrate-lint-ignore drop-column-in-expand\nALTER TABLE orders DROP COLUMN legacy, LOCK=NONE';
    expect(await lintSql(hash, { engine: 'mysql', phase: 'expand' })).toEqual([]);
  });

  test('an ignore comment after a statement, on its line, silences that statement, not the next', async () => {
    const drop = (column: string) => `ALTER TABLE orders DROP COLUMN ${column}`;
    const statements = async (sql: string, engine: LintEngine = 'postgres') =>
      (await lintSql(sql, { engine, phase: 'expand' })).map((f) => f.statement);
    expect(await statements(`${drop('a')}; -- zmigrate-lint-ignore drop-column-in-expand\n${drop('b')}`)).toEqual([drop('b')]);
    expect(await statements(`${drop('a')};   /* zmigrate-lint-ignore drop-column-in-expand */\n${drop('b')};`)).toEqual([drop('b')]);
    // The last statement: the comment is all that follows it.
    expect(await statements(`${drop('a')};\n${drop('b')}; -- zmigrate-lint-ignore drop-column-in-expand\n`)).toEqual([drop('a')]);
    expect(
      await statements(`${drop('a')}, LOCK=NONE; # zmigrate-lint-ignore drop-column-in-expand\n${drop('b')}, LOCK=NONE`, 'mysql'),
    ).toEqual([`${drop('b')}, LOCK=NONE`]);
    // A comment on its own line, or followed by a statement on the same line, is before that statement.
    expect(await statements(`${drop('a')};\n-- zmigrate-lint-ignore drop-column-in-expand\n${drop('b')}`)).toEqual([drop('a')]);
    expect(await statements(`${drop('a')}; /* zmigrate-lint-ignore drop-column-in-expand */ ${drop('b')}`)).toEqual([drop('a')]);
  });

  test('an ignore comment may give a reason after the ids, set off by a colon or a full stop', async () => {
    const found = async (comment: string) =>
      (await lintSql(`${comment}\nALTER TABLE orders DROP COLUMN legacy, LOCK=NONE`, { engine: 'mysql', phase: 'expand' })).map(
        (f) => f.rule,
      );
    expect(await found('-- zmigrate-lint-ignore drop-column-in-expand: unused since v3')).toEqual([]);
    expect(await found('-- zmigrate-lint-ignore drop-column-in-expand. Unused since v3')).toEqual([]);
    expect(await found('/* zmigrate-lint-ignore mysql-alter-without-lock-none, drop-column-in-expand: unused */')).toEqual([]);
    // Words after the reason's colon are not ids.
    expect(await found('-- zmigrate-lint-ignore mysql-alter-not-online: see drop-column-in-expand')).toEqual(['drop-column-in-expand']);
  });

  test('a comment naming another rule silences nothing', async () => {
    const sql = `-- zmigrate-lint-ignore drop-column-in-expand\n${index}`;
    expect((await lintSql(sql, { engine: 'postgres', phase: 'expand' })).map((f) => f.rule)).toEqual(['create-index-without-concurrently']);
  });
});

function loaded(name: string, operations: Operation[]): LoadedMigration {
  return {
    name,
    file: path.join('/nonexistent', `${name}.ts`),
    checksum: '',
    byteChecksums: [],
    migration: defineMigration({ operations }),
  };
}

describe('lint(): migrations and operations', () => {
  test('raw SQL is linted in the phase it runs in', async () => {
    const found = await lint(
      [
        loaded('0001_raw', [
          op.sql({
            expand: 'ALTER TABLE orders ADD COLUMN customer_name text',
            contract: 'ALTER TABLE orders DROP COLUMN customer',
            rollback: 'ALTER TABLE orders DROP COLUMN customer_name',
          }),
        ]),
        loaded('0002_bad', [op.sql({ expand: 'ALTER TABLE orders DROP COLUMN customer_name', rollback: '' })]),
      ],
      { engine: 'postgres' },
    );
    expect(found).toEqual([
      {
        migration: '0002_bad',
        phase: 'expand',
        rule: 'drop-column-in-expand',
        message: 'dropping a column during expand breaks the old app (orders.customer_name)',
        statement: 'ALTER TABLE orders DROP COLUMN customer_name',
        file: path.join('/nonexistent', '0002_bad.ts'),
        line: undefined,
      },
    ]);
  });

  test('VALIDATE of a constraint added NOT VALID is flagged only inside the transaction that added it', async () => {
    const fk = 'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID';
    const check = 'ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID';
    const validate = (name: string) => `ALTER TABLE orders VALIDATE CONSTRAINT ${name}`;
    const rules = async (operations: Operation[]) =>
      (await lint([loaded('0001_fk', operations)], { engine: 'postgres' })).map((f) => [f.rule, f.phase, f.statement]);
    // One phase string: one transaction, the ADD's lock held through the scan.
    expect(await rules([op.sql({ expand: `${fk};\n${check};\n${validate('orders_amount_positive')}`, rollback: '' })])).toEqual([
      ['validate-constraint-in-same-transaction', 'expand', validate('orders_amount_positive')],
    ]);
    expect(await rules([op.sql({ expand: '', contract: `${fk}; ${validate('orders_customer_fk')}`, rollback: '' })])).toEqual([
      ['raw-sql-empty-expand', 'expand', 'op.sql({ expand: … })'],
      ['validate-constraint-in-same-transaction', 'contract', validate('orders_customer_fk')],
    ]);
    // A statement that runs outside any transaction ends the one before it.
    const between = `${fk}; CREATE INDEX CONCURRENTLY orders_amount_idx ON orders (amount); ${validate('orders_customer_fk')}`;
    expect(await rules([op.sql({ expand: between, rollback: '' })])).toEqual([]);
    // Separate operations, or expand then contract: separate transactions.
    expect(await rules([op.sql({ expand: fk, rollback: '' }), op.sql({ expand: validate('orders_customer_fk'), rollback: '' })])).toEqual(
      [],
    );
    expect(await rules([op.sql({ expand: fk, contract: validate('orders_customer_fk'), rollback: '' })])).toEqual([]);
    // Another constraint's VALIDATE in the same transaction is fine.
    expect(await rules([op.sql({ expand: `${fk}; ${validate('orders_other_fk')}`, rollback: '' })])).toEqual([]);
    for (const parser of ['auto', 'tokens'] as const) {
      const found = await lintSql(`${check}; ${validate('orders_amount_positive')}`, { engine: 'postgres', phase: 'contract', parser });
      expect({ parser, rules: found.map((f) => f.rule) }).toEqual({ parser, rules: ['validate-constraint-in-same-transaction'] });
    }
  });

  test('SET foreign_key_checks = 0 lasts for its phase of its migration only: the next may run in another session', async () => {
    const off = op.sql({ expand: 'SET SESSION foreign_key_checks = 0', rollback: '' });
    const fk = 'ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id), LOCK=NONE';
    const rules = async (migrations: LoadedMigration[]) =>
      (await lint(migrations, { engine: 'mysql' })).map((f) => [f.migration, f.phase, f.rule]);
    expect(await rules([loaded('0001_off', [off, op.sql({ expand: fk, rollback: '' })])])).toEqual([]);
    expect(await rules([loaded('0001_off', [off]), loaded('0002_fk', [op.sql({ expand: fk, rollback: '' })])])).toEqual([
      ['0002_fk', 'expand', 'mysql-alter-not-online'],
    ]);
    expect(await rules([loaded('0001_off', [off, op.sql({ expand: '', contract: fk, rollback: '' })])])).toEqual([
      ['0001_off', 'expand', 'raw-sql-empty-expand'],
      ['0001_off', 'contract', 'mysql-alter-not-online'],
    ]);
  });

  test('a TypeScript phase: its bound values are linted, and a knex.transaction is one transaction', async () => {
    const custom = (expand: NonNullable<Parameters<typeof defineMigration>[0]['expand']>): LoadedMigration => ({
      ...loaded('0001_custom', []),
      migration: defineMigration({ operations: [], expand }),
    });
    const found = async (engine: LintEngine, expand: Parameters<typeof custom>[0]) =>
      (await lint([custom(expand)], { engine })).map((f) => [f.rule, f.statement]);
    expect(
      await found('postgres', async ({ knex }) => void (await knex.raw("SELECT set_config('lock_timeout', ?, false)", ['0']))),
    ).toEqual([['lock-timeout-override', "SELECT set_config('lock_timeout', '0', false)"]]);
    expect(await found('mysql', async ({ knex }) => void (await knex.raw('SET SESSION lock_wait_timeout = ?', [3600])))).toEqual([
      ['lock-timeout-override', 'SET SESSION lock_wait_timeout = 3600'],
    ]);
    // A value that is not a setting's is written in as a literal too, quotes and all: nothing here runs.
    expect(
      await found('postgres', async ({ knex }) => void (await knex.raw('UPDATE orders SET note = ? WHERE id = ?', ["it's", 1]))),
    ).toEqual([]);
    const check = 'ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID';
    const validate = 'ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive';
    expect(
      await found('postgres', async ({ knex }) =>
        knex.transaction(async (trx) => {
          await trx.raw(check);
          await trx.raw(validate);
        }),
      ),
    ).toEqual([['validate-constraint-in-same-transaction', validate]]);
    // Outside a transaction each statement commits on its own: the lock is gone before the scan.
    expect(
      await found('postgres', async ({ knex }) => {
        await knex.raw(check);
        await knex.raw(validate);
      }),
    ).toEqual([]);
  });

  test('op.sql with an empty expand', async () => {
    const found = await lint([loaded('0001_cleanup', [op.sql({ expand: '', contract: 'DROP TABLE legacy' })])], { engine: 'postgres' });
    expect(found.map((f) => [f.rule, f.phase])).toEqual([['raw-sql-empty-expand', 'expand']]);
    const intended = await lint(
      [loaded('0001_cleanup', [op.sql({ expand: '-- zmigrate-lint-ignore raw-sql-empty-expand', contract: 'DROP TABLE legacy' })])],
      {
        engine: 'postgres',
      },
    );
    expect(intended).toEqual([]);
  });

  test('op.sql that changes the schema in expand without a rollback', async () => {
    const found = await lint([loaded('0001_audit', [op.sql({ expand: 'CREATE TABLE audit (id bigint PRIMARY KEY)' })])], {
      engine: 'mysql',
    });
    expect(found.map((f) => f.rule)).toEqual(['raw-sql-without-rollback']);
    const undone = await lint(
      [loaded('0001_audit', [op.sql({ expand: 'CREATE TABLE audit (id bigint PRIMARY KEY)', rollback: 'DROP TABLE audit' })])],
      { engine: 'mysql' },
    );
    expect(undone).toEqual([]);
    const dataOnly = await lint([loaded('0001_fill', [op.sql({ expand: "UPDATE orders SET note = '' WHERE note IS NULL" })])], {
      engine: 'mysql',
    });
    expect(dataOnly).toEqual([]);
  });

  test('op.addColumn: a type with a value per row is reported, a default computed per row is not (expand fills it in batches)', async () => {
    const identity = await lint([loaded('0001_seq', [op.addColumn('orders', 'seq', { type: 'bigint GENERATED ALWAYS AS IDENTITY' })])], {
      engine: 'postgres',
    });
    expect(identity).toEqual([
      expect.objectContaining({
        rule: 'add-column-volatile-default',
        statement: 'op.addColumn("orders", "seq", { type: "bigint GENERATED ALWAYS AS IDENTITY" })',
      }),
    ]);
    // A serial type is an integer column with a sequence of its own, filled in batches (on PostgreSQL; MySQL's is AUTO_INCREMENT).
    expect(await lint([loaded('0001_seq', [op.addColumn('orders', 'seq', { type: 'bigserial' })])], { engine: 'postgres' })).toEqual([]);
    const mysqlSerial = await lint([loaded('0001_seq', [op.addColumn('orders', 'seq', { type: 'serial' })])], { engine: 'mysql' });
    expect(mysqlSerial.map((f) => f.rule)).toEqual(['add-column-volatile-default']);
    const counter = await lint([loaded('0001_seq', [op.addColumn('orders', 'seq', { type: 'int AUTO_INCREMENT' })])], { engine: 'mysql' });
    expect(counter.map((f) => f.rule)).toEqual(['add-column-volatile-default']);
    const uuid = await lint([loaded('0001_token', [op.addColumn('orders', 'token', { type: 'uuid', default: 'gen_random_uuid()' })])], {
      engine: 'postgres',
    });
    expect(uuid).toEqual([]);
    const constant = await lint([loaded('0001_status', [op.addColumn('orders', 'status', { type: 'text', default: "'new'" })])], {
      engine: 'mysql',
    });
    expect(constant).toEqual([]);
  });

  test('raw SQL on a table op.createTable made in the same migration is not flagged in expand', async () => {
    const found = await lint(
      [
        loaded('0001_audit', [
          op.createTable('audit', { columns: { id: { type: 'bigint', primaryKey: true }, at: { type: 'timestamp' } } }),
          op.sql({ expand: 'CREATE INDEX audit_at_idx ON audit (at)', rollback: '' }),
        ]),
      ],
      { engine: 'postgres' },
    );
    expect(found).toEqual([]);
  });
});

const UNSAFE_FILE = `import { defineMigration, op } from 'zmigrate';

export default defineMigration({
  operations: [
    op.sql({
      expand: \`
        CREATE INDEX orders_customer_idx ON orders (customer);
        ALTER TABLE orders ADD COLUMN note text;
      \`,
      contract: 'ALTER TABLE orders DROP COLUMN legacy',
      rollback: 'DROP INDEX CONCURRENTLY orders_customer_idx',
    }),
  ],
});
`;

const SAFE_FILE = migrationSource([
  "op.sql({ expand: 'CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer)', rollback: 'DROP INDEX CONCURRENTLY IF EXISTS orders_customer_idx' })",
  "op.addColumn('orders', 'priority', { type: 'integer', nullable: true })",
]);

describe('zmigrate lint (CLI)', () => {
  test('tty: each finding with file:line, phase, rule, why and instead; exit 1', async () => {
    const dir = migrationsDir({ '0001_unsafe.ts': UNSAFE_FILE, '0002_safe.ts': SAFE_FILE });
    const result = await runCli(['lint', '--dir', dir]);
    expect(result.code).toBe(1);
    const file = path.join(dir, '0001_unsafe.ts');
    expect(result.stdout).toContain(`${file}:7 0001_unsafe · expand create-index-without-concurrently`);
    expect(result.stdout).toContain('  │ CREATE INDEX orders_customer_idx ON orders (customer)');
    expect(result.stdout).toContain('  why: A plain CREATE INDEX holds a SHARE lock');
    expect(result.stdout).toContain('  instead: CREATE INDEX CONCURRENTLY');
    expect(result.stdout).toContain('✗ 1 finding in 1 of 2 migrations (postgres)');
    expect(result.stdout).not.toContain('DROP COLUMN legacy'); // fine in contract
    expect(result.stdout).not.toMatch(/\x1b\[/); // NO_COLOR
    expect(result.stderr).toBe('');
  });

  test('each finding has the line of its own statement, though statements start alike or repeat another phase', async () => {
    const file = `import { defineMigration, op } from 'zmigrate';

export default defineMigration({
  operations: [
    op.sql({
      expand: \`
        ALTER TABLE orders
          ADD COLUMN note text;
        ALTER TABLE orders
          DROP COLUMN legacy;
        ALTER TABLE orders
          DROP COLUMN other;
      \`,
      contract: \`
        ALTER TABLE orders
          ALTER COLUMN amount TYPE bigint;
      \`,
      rollback: '',
    }),
    op.sql({ expand: 'ALTER TABLE orders DROP COLUMN third', rollback: '' }),
  ],
});
`;
    const result = await runCli(['lint', '--json', '--dir', migrationsDir({ '0001_lines.ts': file })]);
    const found = (JSON.parse(result.stdout) as { findings: Array<{ rule: string; phase: string; line: number }> }).findings;
    expect(found.map((f) => [f.rule, f.phase, f.line])).toEqual([
      ['drop-column-in-expand', 'expand', 9],
      ['drop-column-in-expand', 'expand', 11],
      ['drop-column-in-expand', 'expand', 20],
      ['column-type-change-rewrites-table', 'contract', 15],
    ]);
  });

  test('a TypeScript phase that fails on the recording knex is a note naming it; the other migrations are linted', async () => {
    const counting = `import { defineMigration } from 'zmigrate';

export default defineMigration({
  expand: async ({ knex }) => {
    const [row] = await knex('orders').count({ n: '*' });
    if (Number(row.n) > 0) await knex.raw('ALTER TABLE orders DROP COLUMN legacy');
  },
});
`;
    const dir = migrationsDir({ '0001_count.ts': counting, '0002_unsafe.ts': UNSAFE_FILE });
    const json = await runCli(['lint', '--json', '--dir', dir]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      engine: 'postgres',
      findings: [expect.objectContaining({ migration: '0002_unsafe', rule: 'create-index-without-concurrently' })],
      notes: [
        {
          migration: '0001_count',
          phase: 'expand',
          message: expect.stringMatching(/^the TypeScript expand phase was not linted: .*\(Cannot read properties of undefined/),
          file: path.join(dir, '0001_count.ts'),
          line: 4,
        },
      ],
    });
    // Alone, it exits 0: the migration is valid; lint says what it could not see.
    const alone = migrationsDir({ '0001_count.ts': counting });
    const tty = await runCli(['lint', '--dir', alone]);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toContain(
      `${path.join(alone, '0001_count.ts')}:4 0001_count · expand not linted\n  the TypeScript expand phase was not linted`,
    );
    expect(tty.stdout).toContain('✓ no unsafe SQL in 1 migration; 1 TypeScript phase not linted (postgres)');
    const github = await runCli(['lint', '--format', 'github'], { cwd: path.dirname(alone) });
    expect(github.code).toBe(0);
    expect(github.stdout).toMatch(
      /^::warning file=migrations\/0001_count\.ts,line=4,title=zmigrate lint%3A not linted \(expand\)::the TypeScript/,
    );
  });

  test('tty: clean migrations exit 0', async () => {
    const dir = migrationsDir({ '0001_safe.ts': SAFE_FILE });
    const result = await runCli(['lint', '--dir', dir]);
    expect(result).toMatchObject({ code: 0, stdout: '✓ no unsafe SQL in 1 migration (postgres)\n' });
  });

  test('--json: machine-readable findings', async () => {
    const dir = migrationsDir({ '0001_unsafe.ts': UNSAFE_FILE });
    const result = await runCli(['lint', '--json', '--dir', dir]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      engine: 'postgres',
      findings: [
        {
          migration: '0001_unsafe',
          phase: 'expand',
          rule: 'create-index-without-concurrently',
          message: 'CREATE INDEX without CONCURRENTLY blocks writes to the table while the index builds (on orders)',
          statement: 'CREATE INDEX orders_customer_idx ON orders (customer)',
          file: path.join(dir, '0001_unsafe.ts'),
          line: 7,
        },
      ],
    });
    const clean = await runCli(['lint', '--format', 'json', '--dir', migrationsDir({ '0001_safe.ts': SAFE_FILE })]);
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toEqual({ engine: 'postgres', findings: [] });
  });

  test('--format github: one error annotation per finding, on its file and line', async () => {
    const dir = migrationsDir({ '0001_unsafe.ts': UNSAFE_FILE });
    const root = path.dirname(dir);
    const result = await runCli(['lint', '--format', 'github'], { cwd: root });
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^::error file=migrations\/0001_unsafe\.ts,line=7,title=zmigrate lint%3A create-index-without-concurrently \(expand\)::CREATE INDEX without CONCURRENTLY/,
    );
    expect(lines[0]).toContain('%0A%0ACREATE INDEX orders_customer_idx ON orders (customer)%0A%0Ainstead: ');
    expect(result.stderr).toContain('1 finding in 1 of 1 migration');
  });

  test('the ignore comment works from a migration file', async () => {
    const silenced = UNSAFE_FILE.replace(
      'CREATE INDEX orders',
      '/* zmigrate-lint-ignore create-index-without-concurrently */ CREATE INDEX orders',
    );
    const result = await runCli(['lint', '--dir', migrationsDir({ '0001_unsafe.ts': silenced })]);
    expect(result.code).toBe(0);
  });

  test('the engine comes from --engine, else from the URL scheme, and no database is contacted', async () => {
    const file = migrationSource([
      "op.sql({ expand: 'ALTER TABLE orders ADD COLUMN note text', rollback: 'ALTER TABLE orders DROP COLUMN note' })",
    ]);
    const dir = migrationsDir({ '0001_note.ts': file });
    // Nothing listens on port 1: a connection attempt would fail the command.
    const mysql = await runCli(['lint', '--json', '--dir', dir, '--url', 'mysql://nobody@127.0.0.1:1/none']);
    expect(mysql.code).toBe(1);
    expect(JSON.parse(mysql.stdout)).toMatchObject({
      engine: 'mysql',
      findings: [
        { rule: 'mysql-alter-without-lock-none', phase: 'expand' },
        { rule: 'mysql-alter-without-lock-none', phase: 'rollback' },
      ],
    });
    const fromEnv = await runCli(['lint', '--json', '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: 'mariadb://nobody@127.0.0.1:1/none' } });
    expect(JSON.parse(fromEnv.stdout)).toMatchObject({ engine: 'mysql' });
    const postgres = await runCli(['lint', '--json', '--dir', dir, '--url', 'postgres://nobody@127.0.0.1:1/none']);
    expect(postgres.code).toBe(0);
    expect(JSON.parse(postgres.stdout)).toEqual({ engine: 'postgres', findings: [] });
    const overridden = await runCli(['lint', '--json', '--dir', dir, '--url', 'postgres://nobody@127.0.0.1:1/none', '--engine', 'mariadb']);
    expect(JSON.parse(overridden.stdout)).toMatchObject({ engine: 'mysql' });
  });

  test('bad usage and bad input exit 2', async () => {
    const dir = migrationsDir({ '0001_safe.ts': SAFE_FILE });
    const engine = await runCli(['lint', '--dir', dir, '--engine', 'oracle']);
    expect(engine.code).toBe(2);
    expect(engine.stderr).toMatch(/^error: Invalid values/);
    const both = await runCli(['lint', '--dir', dir, '--json', '--format', 'github']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--json and --format github disagree');
    const scheme = await runCli(['lint', '--dir', dir, '--url', 'oracle://x@y/z']);
    expect(scheme.code).toBe(2);
    const missing = await runCli(['lint', '--dir', path.join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    const broken = migrationsDir({ '0001_broken.ts': 'export default defineMigration({ operations: [' });
    const bad = await runCli(['lint', '--dir', broken]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('0001_broken.ts');
  });
});

describe('PostgreSQL 14+ BEGIN ATOMIC bodies', () => {
  const fn = `CREATE FUNCTION order_total(qty integer, price integer) RETURNS integer LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN qty > 0 THEN qty * price ELSE 0 END;
END`;
  const procedure = `CREATE OR REPLACE PROCEDURE reset_marks() LANGUAGE sql
BEGIN ATOMIC
  UPDATE marks SET label = 'a' WHERE id = 1;
  INSERT INTO marks VALUES (2, 'b');
END`;

  test('a body with semicolons is one statement, parsed and linted as one', async () => {
    const pg = await createAnalyzer('postgres');
    const sql = `${fn};\n${procedure};\nUPDATE marks SET label = CASE WHEN id > 1 THEN 'x' END; END;\nCREATE INDEX marks_label_idx ON marks (label)`;
    expect(pg.statements(sql).map((s) => [s.parser, s.syntaxError, s.code])).toEqual([
      ['libpg-query', undefined, fn],
      ['libpg-query', undefined, procedure],
      ['libpg-query', undefined, "UPDATE marks SET label = CASE WHEN id > 1 THEN 'x' END"],
      ['libpg-query', undefined, 'END'],
      ['libpg-query', undefined, 'CREATE INDEX marks_label_idx ON marks (label)'],
    ]);
    const found = await lintSql(`${fn};\nCREATE INDEX marks_label_idx ON marks (label)`, { engine: 'postgres', phase: 'expand' });
    expect(found.map((f) => [f.rule, f.statement])).toEqual([
      ['create-index-without-concurrently', 'CREATE INDEX marks_label_idx ON marks (label)'],
    ]);
  });

  test('op.sql with BEGIN ATOMIC routines runs on PostgreSQL', async () => {
    const db = await createTestDatabase('postgres');
    const expand = `CREATE TABLE marks (id integer PRIMARY KEY, label text); INSERT INTO marks VALUES (1, 'z');\n${fn};\n${procedure};\nCALL reset_marks()`;
    const dir = migrationsDir({
      '0001_atomic.ts': migrationSource([
        `op.sql({ expand: ${JSON.stringify(expand)}, rollback: 'DROP PROCEDURE reset_marks; DROP FUNCTION order_total; DROP TABLE marks' })`,
      ]),
    });
    try {
      await withMigrator(db.url, dir, (migrator) => migrator.expand());
      const { rows } = (await db.knex.raw(
        "SELECT order_total(2, 5) AS total, (SELECT string_agg(label, ',' ORDER BY id) FROM marks) AS labels",
      )) as {
        rows: unknown[];
      };
      expect(rows).toEqual([{ total: 10, labels: 'a,b' }]);
    } finally {
      await db.drop();
    }
  });
});

describe("PostgreSQL's lexing, shared by op.sql and lint: E'…' strings, nested comments, statements outside a transaction", () => {
  const escaped = String.raw`UPDATE quotes SET v = E'it\'s; really'`;
  const nested = "/* outer /* it's nested */ still the comment; */ UPDATE quotes SET v = v || '!'";

  test('a backslash-escaped quote and a nested comment end no statement early', async () => {
    const pg = await createAnalyzer('postgres');
    const statements = pg.statements(`${escaped};\n${nested};\nCREATE INDEX CONCURRENTLY quotes_v_idx ON quotes (v)`);
    expect(statements.map((s) => [s.parser, s.syntaxError, s.code])).toEqual([
      ['libpg-query', undefined, escaped],
      ['libpg-query', undefined, "UPDATE quotes SET v = v || '!'"],
      ['libpg-query', undefined, 'CREATE INDEX CONCURRENTLY quotes_v_idx ON quotes (v)'],
    ]);
    for (const parser of ['auto', 'tokens'] as const) {
      const found = await lintSql(`${nested};\nCREATE INDEX quotes_v_idx ON quotes (v)`, { engine: 'postgres', phase: 'expand', parser });
      expect({ parser, found: found.map((f) => [f.rule, f.statement]) }).toEqual({
        parser,
        found: [['create-index-without-concurrently', 'CREATE INDEX quotes_v_idx ON quotes (v)']],
      });
    }
  });

  test('op.sql runs them on PostgreSQL, the concurrent build alone', async () => {
    const db = await createTestDatabase('postgres');
    const expand = [
      'CREATE TABLE quotes (id integer PRIMARY KEY, v text)',
      "INSERT INTO quotes VALUES (1, 'x')",
      escaped,
      nested,
      'CREATE INDEX CONCURRENTLY quotes_v_idx ON quotes (v)',
    ].join(';\n');
    const dir = migrationsDir({
      '0001_quotes.ts': migrationSource([`op.sql({ expand: ${JSON.stringify(expand)}, rollback: 'DROP TABLE quotes' })`]),
    });
    try {
      await withMigrator(db.url, dir, (migrator) => migrator.expand());
      const { rows } = (await db.knex.raw(
        "SELECT v, (SELECT indisvalid FROM pg_index WHERE indexrelid = 'quotes_v_idx'::regclass) AS valid FROM quotes",
      )) as { rows: unknown[] };
      expect(rows).toEqual([{ v: "it's; really!", valid: true }]);
    } finally {
      await db.drop();
    }
  });

  test('a concurrent build after a nested comment that failed leaves no invalid index in the way of a rerun (the guard finds it)', async () => {
    const db = await createTestDatabase('postgres');
    await db.knex.raw("CREATE TABLE dupes (id integer PRIMARY KEY, v text); INSERT INTO dupes VALUES (1, 'a'), (2, 'a')");
    const build = '/* why: /* lookups by v */ */ CREATE UNIQUE INDEX CONCURRENTLY dupes_v_key ON dupes (v)';
    const dir = migrationsDir({
      '0001_unique_v.ts': migrationSource([`op.sql({ expand: ${JSON.stringify(build)}, rollback: 'DROP INDEX dupes_v_key' })`]),
    });
    try {
      // The duplicate stops the build, which leaves an invalid index of that name behind.
      await expect(withMigrator(db.url, dir, (migrator) => migrator.expand())).rejects.toThrow(/could not create unique index/);
      await db.knex.raw('DELETE FROM dupes WHERE id = 2');
      await withMigrator(db.url, dir, (migrator) => migrator.expand());
      const { rows } = (await db.knex.raw("SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'dupes_v_key'::regclass")) as {
        rows: unknown[];
      };
      expect(rows).toEqual([{ valid: true }]);
    } finally {
      await db.drop();
    }
  });

  test('VACUUM after a comment runs outside a transaction; CONCURRENTLY in a comment or a string takes no statement out of one', async () => {
    const db = await createTestDatabase('postgres');
    await db.knex.raw("CREATE TABLE notes (id integer PRIMARY KEY, v text); INSERT INTO notes VALUES (1, 'a')");
    // The second INSERT fails: in one transaction with it, the first is undone.
    const expand = [
      "INSERT INTO notes VALUES (2, 'built CONCURRENTLY')",
      '/* not CONCURRENTLY */ INSERT INTO notes VALUES (3, $$b$$)',
      "INSERT INTO notes VALUES (1, 'duplicate')",
    ].join(';\n');
    const vacuum = '-- refresh the statistics\nVACUUM ANALYZE notes';
    const dir = migrationsDir({
      '0001_vacuum.ts': migrationSource([`op.sql({ expand: ${JSON.stringify(vacuum)}, rollback: '' })`]),
      '0002_notes.ts': migrationSource([`op.sql({ expand: ${JSON.stringify(expand)}, rollback: '' })`]),
    });
    try {
      await expect(withMigrator(db.url, dir, (migrator) => migrator.expand())).rejects.toThrow(/duplicate key/);
      const { rows } = (await db.knex.raw('SELECT id FROM notes ORDER BY id')) as { rows: unknown[] };
      expect(rows).toEqual([{ id: 1 }]);
    } finally {
      await db.drop();
    }
  });
});

describe('MySQL/MariaDB compound statements (BEGIN … END)', () => {
  const trigger =
    'CREATE TRIGGER t_ai AFTER INSERT ON orders FOR EACH ROW BEGIN INSERT INTO audit VALUES (NEW.id); UPDATE stats SET n = n + 1; END';

  test.each([
    ['--', '-- audit\n'],
    ['#', '# audit\n'],
    ['/* */', '/* audit;\n trail */ '],
  ])('a trigger body after a leading %s comment is one statement', (_, comment) => {
    const sql = `CREATE TABLE audit (id bigint);\n${comment}${trigger};\nINSERT INTO stats VALUES (0)`;
    expect(splitSql(sql, MYSQL_LEX)).toEqual([
      'CREATE TABLE audit (id bigint)',
      `${comment}${trigger}`.trim(),
      'INSERT INTO stats VALUES (0)',
    ]);
  });

  test('op.sql with a commented trigger of several statements runs on MariaDB, and the trigger works', async () => {
    const db = await createTestDatabase('mysql');
    const expand = [
      'CREATE TABLE orders (id bigint PRIMARY KEY)',
      'CREATE TABLE audit (id bigint)',
      'CREATE TABLE stats (n integer NOT NULL)',
      'INSERT INTO stats VALUES (0)',
      `-- audit\n${trigger}`,
    ].join(';\n');
    const dir = migrationsDir({
      '0001_audit.ts': migrationSource([
        `op.sql({ expand: ${JSON.stringify(expand)}, rollback: 'DROP TRIGGER t_ai; DROP TABLE stats; DROP TABLE audit; DROP TABLE orders' })`,
      ]),
    });
    try {
      await withMigrator(db.url, dir, (migrator) => migrator.expand());
      await db.knex('orders').insert([{ id: 7 }, { id: 8 }]);
      const [audit] = (await db.knex.raw('SELECT (SELECT GROUP_CONCAT(id ORDER BY id) FROM audit) AS ids, (SELECT n FROM stats) AS n')) as [
        unknown[],
      ];
      expect(audit).toEqual([{ ids: '7,8', n: 2 }]);
    } finally {
      await db.drop();
    }
  });
});

/**
 * Every built-in operation, each on a table of its own, planned by
 * `zmigrate plan --json` on a real server; each statement is linted in the
 * phase it belongs to. A finding here means a rule or the generated SQL is wrong.
 */
const BASE_TABLES = [
  'CREATE TABLE t_add (id bigint PRIMARY KEY, amount integer NOT NULL)',
  'CREATE TABLE t_ren (id bigint PRIMARY KEY, customer varchar(100))',
  'CREATE TABLE t_alt (id bigint PRIMARY KEY, amount integer NOT NULL)',
  'CREATE INDEX t_alt_amount_idx ON t_alt (amount)',
  'CREATE TABLE t_drop (id bigint PRIMARY KEY, legacy text NOT NULL)',
  'CREATE TABLE t_nn (id bigint PRIMARY KEY, note text)',
  'CREATE TABLE t_idx (id bigint PRIMARY KEY, amount integer, old integer)',
  'CREATE INDEX t_idx_old ON t_idx (old)',
  'CREATE TABLE t_uq (id bigint PRIMARY KEY, code varchar(20))',
  'CREATE TABLE parents (id bigint PRIMARY KEY)',
  'CREATE TABLE t_fk (id bigint PRIMARY KEY, parent_id bigint)',
  'CREATE TABLE t_ck (id bigint PRIMARY KEY, qty integer)',
  'CREATE TABLE t_rn (id bigint PRIMARY KEY)',
  'CREATE TABLE old_stuff (id bigint PRIMARY KEY)',
];

/** [operation name, source]; operations the package does not have (yet) are left out, and listed. */
const ALL_OPERATIONS: Array<[string, string]> = [
  [
    'createTable',
    "op.createTable('items', { columns: { id: { type: 'bigint', primaryKey: true }, name: { type: 'varchar(100)', nullable: false }, qty: { type: 'integer', nullable: false, default: '0' } } })",
  ],
  ['createIndex', "op.createIndex('items', ['name'])"],
  ['addColumn', "op.addColumn('t_add', 'priority', { type: 'integer', nullable: true })"],
  ['addColumn', "op.addColumn('t_add', 'status', { type: 'varchar(20)', nullable: false, default: \"'new'\" })"],
  ['addColumn', "op.addColumn('t_add', 'total', { type: 'bigint', nullable: false, up: 'amount * 2' })"],
  ['renameColumn', "op.renameColumn('t_ren', 'customer', 'customer_name')"],
  ['alterColumn', "op.alterColumn('t_alt', 'amount', { type: 'bigint', up: 'amount', down: 'amount' })"],
  ['dropColumn', "op.dropColumn('t_drop', 'legacy', { down: \"'x'\" })"],
  ['setNotNull', "op.setNotNull('t_nn', 'note', { up: \"coalesce(note, '')\" })"],
  ['createIndex', "op.createIndex('t_idx', ['amount'], { unique: true, name: 't_idx_amount_uq' })"],
  ['dropIndex', "op.dropIndex('t_idx', 't_idx_old')"],
  ['addUnique', "op.addUnique('t_uq', ['code'])"],
  ['addForeignKey', "op.addForeignKey('t_fk', ['parent_id'], { references: { table: 'parents', columns: ['id'] }, onDelete: 'cascade' })"],
  ['addCheck', "op.addCheck('t_ck', 't_ck_qty_positive', 'qty > 0')"],
  ['renameTable', "op.renameTable('t_rn', 't_rn2')"],
  ['dropTable', "op.dropTable('old_stuff')"],
];

/** Operations an engine refuses (none since MariaDB adds a CHECK by an online rebuild). */
const NOT_ON: Record<string, LintEngine[]> = {};

/** A default computed per row, which each engine spells its own way: filled in batches. */
const PER_ROW_DEFAULT: Record<LintEngine, string> = {
  postgres: "op.addColumn('t_add', 'token', { type: 'uuid', nullable: false, default: 'gen_random_uuid()' })",
  mysql: "op.addColumn('t_add', 'token', { type: 'char(36)', nullable: false, default: 'uuid()' })",
};

describe.each(SERVER_ENGINES)("zmigrate's own SQL lints clean on %s", (engine) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    for (const sql of BASE_TABLES) await db.knex.raw(sql);
  });
  afterAll(async () => {
    await db.drop();
  });

  test('plan --json of every built-in operation, each statement linted in its phase (rollback too)', async () => {
    const available = ALL_OPERATIONS.filter(([name]) => name in op && !(NOT_ON[name] ?? []).includes(engine as LintEngine));
    const missing = [...new Set(ALL_OPERATIONS.map(([name]) => name).filter((name) => !(name in op)))];
    if (missing.length > 0) console.warn(`operations not in the package yet, not linted: ${missing.join(', ')}`);
    const lintEngine: LintEngine = engine === 'postgres' ? 'postgres' : 'mysql';
    const sources = [...available.map(([, source]) => source), PER_ROW_DEFAULT[lintEngine]];
    const dir = migrationsDir({ '0001_everything.ts': migrationSource(sources) });
    const plan = await runCli(['plan', '--json', '--dir', dir, '--url', db.url]);
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(0);
    const plans = (JSON.parse(plan.stdout) as { plans: Array<{ phase: LintPhase; statements: string[] }> }).plans;
    expect(plans.map((p) => p.phase)).toEqual(['expand', 'contract', 'rollback']);
    const statements = plans.flatMap((p) => p.statements.map((sql) => ({ phase: p.phase, sql })));
    expect(statements.length).toBeGreaterThan(20);
    // Rollback undoes every operation's expand: the version schema, the new table, columns, indexes, constraints.
    const rollback = plans[2].statements.join('\n');
    for (const undone of [`${db.base}_0001_everything`, 'items', 'priority', 'total', 'token', '_zm_amount', 't_idx_amount_uq', 't_fk']) {
      expect(rollback).toContain(undone);
    }
    expect(plans[0].statements.join('\n')).toMatch(/SET DEFAULT \(?(gen_random_uuid|uuid)\(\)/);
    for (const parser of ['auto', 'tokens'] as const) {
      const found = await lintStatements(statements, { engine: lintEngine, parser });
      expect({ parser, found }).toEqual({ parser, found: [] });
    }
    // The same SQL through the CLI's own path: raw SQL in op.sql, by phase.
    const raw = plans.map(
      (p) =>
        `op.sql({ ${p.phase}: ${JSON.stringify(p.statements.join(';\n'))}${p.phase === 'expand' ? ", rollback: ''" : ", expand: '-- zmigrate-lint-ignore raw-sql-empty-expand'"} })`,
    );
    const rawDir = migrationsDir({ '0001_generated.ts': migrationSource(raw) });
    writeFileSync(path.join(path.dirname(rawDir), 'zmigrate.config.json'), JSON.stringify({ url: db.url }));
    const linted = await runCli(['lint', '--json', '--dir', rawDir], { cwd: path.dirname(rawDir) });
    expect(JSON.parse(linted.stdout)).toEqual({ engine: lintEngine, findings: [] });
    expect(linted.code).toBe(0);
  });
});
