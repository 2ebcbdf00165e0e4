import type { ConstraintKind, Fact, LintEngine } from './statement';
import type { Token } from './tokens';
import { PER_ROW_FUNCTIONS, SERIAL_TYPES, settingValue } from './values';

/**
 * Facts from tokens: the fallback for statements the parsers cannot handle
 * (on MySQL/MariaDB: INVISIBLE columns, ALTER COLUMN … SET DEFAULT, RENAME
 * INDEX, compound statements, …). It reads the statement's head and each
 * top-level clause of ALTER TABLE, which is all the rules need.
 */
export function factsFromTokens(
  tokens: readonly Token[],
  engine: LintEngine,
): { facts: Fact[]; alter?: { table: string; algorithm?: string; lock?: string } } {
  const c = new Cursor(tokens, engine);
  if (c.done()) return { facts: [] };
  if (c.acceptWords('CREATE')) return create(c);
  if (c.acceptWords('DROP')) return { facts: drop(c) };
  if (c.acceptWords('ALTER')) {
    // MariaDB: ALTER ONLINE TABLE is ALTER TABLE … LOCK=NONE (node-sql-parser rejects it, so it is read here).
    const online = c.acceptWords('ONLINE');
    c.acceptWords('IGNORE');
    if (c.acceptWords('TABLE')) {
      const altered = alterTable(c);
      if (online && altered.alter) altered.alter.lock ??= 'NONE';
      return altered;
    }
    return { facts: [{ kind: 'ddl', what: `ALTER ${c.peekWord() ?? ''}`.trim() }] };
  }
  if (c.acceptWords('RENAME')) {
    c.acceptAnyWord('TABLE', 'TABLES');
    const facts: Fact[] = [];
    while (!c.done()) {
      const from = c.tableName();
      if (!from || !c.acceptWords('TO')) break;
      const to = c.tableName();
      if (!to) break;
      facts.push({ kind: 'renameTable', table: from, to });
      if (!c.acceptPunct(',')) break;
    }
    return { facts };
  }
  if (c.acceptWords('SET', 'STATEMENT')) return setStatement(c);
  if (c.isWord('SET')) return { facts: set(c) };
  if (c.acceptWords('RESET')) {
    const name = c.acceptWords('ALL') ? '*' : (c.name() ?? '');
    return { facts: [{ kind: 'setting', name, raw: 'DEFAULT', value: 'default', scope: 'session' }] };
  }
  if (c.acceptWords('DISCARD', 'ALL'))
    return { facts: [{ kind: 'setting', name: '*', raw: 'DEFAULT', value: 'default', scope: 'session' }] };
  const first = c.peekWord();
  if (first && ['BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'SAVEPOINT', 'RELEASE'].includes(first)) {
    c.next();
    c.acceptAnyWord('WORK', 'TRANSACTION');
    return { facts: [{ kind: 'transaction', verb: first === 'ROLLBACK' && c.isWord('TO') ? 'ROLLBACK_TO' : first }] };
  }
  if (c.acceptWords('PREPARE', 'TRANSACTION')) return { facts: [{ kind: 'transaction', verb: 'PREPARE' }] };
  const setConfig = setConfigCall(tokens);
  if (setConfig) return { facts: [setConfig] };
  if (c.acceptWords('TRUNCATE')) return { facts: truncate(c) };
  if (c.engine === 'postgres') {
    const maintenance = postgresMaintenance(c);
    if (maintenance) return { facts: maintenance };
  }
  if (c.engine === 'mysql') {
    const locks = mysqlTableLocks(c);
    if (locks) return { facts: locks };
  }
  if (first && ['COMMENT', 'GRANT', 'REVOKE', 'TRUNCATE', 'REINDEX', 'CLUSTER', 'VACUUM', 'ANALYZE', 'OPTIMIZE'].includes(first)) {
    return { facts: [{ kind: 'ddl', what: first }] };
  }
  return { facts: [{ kind: 'dml' }] };
}

/** TRUNCATE [TABLE] [ONLY] name [*] [, …] */
function truncate(c: Cursor): Fact[] {
  c.acceptWords('TABLE');
  const facts: Fact[] = [];
  for (const part of c.splitTopLevel()) {
    part.acceptWords('ONLY');
    const table = part.tableName();
    if (table) facts.push({ kind: 'truncate', table });
  }
  return facts;
}

/**
 * MySQL/MariaDB: LOCK TABLES t READ | WRITE, …, and FLUSH TABLES [t, …] WITH
 * READ LOCK (every table when none is named) or FOR EXPORT.
 */
function mysqlTableLocks(c: Cursor): Fact[] | undefined {
  if (c.acceptWords('LOCK')) {
    if (!c.acceptAnyWord('TABLES', 'TABLE')) return undefined;
    return c.splitTopLevel().flatMap((part): Fact[] => {
      const table = part.tableName();
      const words = part.restWords();
      const mode = words.includes('WRITE') ? 'WRITE' : words.includes('READ') ? 'READ' : undefined;
      return table && mode ? [{ kind: 'lockTable', table, mode }] : [];
    });
  }
  if (c.acceptWords('FLUSH')) {
    c.acceptAnyWord('LOCAL', 'NO_WRITE_TO_BINLOG');
    if (!c.acceptAnyWord('TABLES', 'TABLE')) return undefined;
    const tables: string[] = [];
    while (!c.isWord('WITH') && !c.isWord('FOR')) {
      const table = c.tableName();
      if (!table) break;
      tables.push(table);
      if (!c.acceptPunct(',')) break;
    }
    const locks = c.acceptWords('WITH', 'READ', 'LOCK') || c.acceptWords('FOR', 'EXPORT');
    if (!locks) return [{ kind: 'ddl', what: 'FLUSH TABLES' }];
    return (tables.length > 0 ? tables : ['*']).map((table) => ({ kind: 'lockTable', table, mode: 'READ' }));
  }
  return undefined;
}

const LOCK_MODE_WORDS = new Set(['ACCESS', 'ROW', 'SHARE', 'UPDATE', 'EXCLUSIVE']);

/** PostgreSQL statements that lock a table or rebuild it: LOCK, REINDEX, VACUUM, CLUSTER, REFRESH MATERIALIZED VIEW. */
function postgresMaintenance(c: Cursor): Fact[] | undefined {
  // The options in parentheses (REINDEX (CONCURRENTLY), VACUUM (FULL, ANALYZE)), as upper-case words.
  const options = () => (c.isPunct('(') ? c.parenthesized().restWords() : []);
  if (c.acceptWords('LOCK')) {
    c.acceptWords('TABLE');
    const tables: string[] = [];
    do {
      c.acceptWords('ONLY');
      const table = c.tableName();
      if (table) tables.push(table);
      c.acceptPunct('*');
    } while (c.acceptPunct(','));
    const words = c.acceptWords('IN') ? c.restWords() : [];
    const mode =
      words
        .slice(0, words.indexOf('MODE'))
        .filter((w) => LOCK_MODE_WORDS.has(w))
        .join(' ') || 'ACCESS EXCLUSIVE';
    return tables.map((table) => ({ kind: 'lockTable', table, mode }));
  }
  if (c.acceptWords('REINDEX')) {
    const concurrently = options().includes('CONCURRENTLY');
    const kind = c.peekWord() ?? '';
    c.next();
    if (concurrently || c.acceptWords('CONCURRENTLY')) return [{ kind: 'ddl', what: 'REINDEX CONCURRENTLY' }];
    const name = c.tableName();
    if (kind === 'TABLE' && name) return [{ kind: 'rebuild', table: name, what: 'REINDEX TABLE' }];
    if (kind === 'INDEX') return [{ kind: 'rebuild', what: `REINDEX INDEX ${name ?? ''}`.trim() }];
    return [{ kind: 'rebuild', what: `REINDEX ${kind}` }];
  }
  if (c.acceptWords('VACUUM')) {
    const words = options();
    while (c.isAnyWord(['FULL', 'FREEZE', 'VERBOSE', 'ANALYZE', 'ANALYSE'])) words.push(c.next()!.value);
    const full = words.some((w, i) => w === 'FULL' && !['FALSE', 'OFF', '0'].includes(words[i + 1] ?? ''));
    if (!full) return [{ kind: 'ddl', what: 'VACUUM' }];
    const tables = c.splitTopLevel().flatMap((part) => part.tableName() ?? []);
    return tables.length > 0
      ? tables.map((table) => ({ kind: 'rebuild', table, what: 'VACUUM FULL' }))
      : [{ kind: 'rebuild', what: 'VACUUM FULL' }];
  }
  if (c.acceptWords('CLUSTER')) {
    options();
    c.acceptWords('VERBOSE');
    const first = c.tableName();
    // CLUSTER index ON table, the form before PostgreSQL 8.3.
    const table = c.acceptWords('ON') ? c.tableName() : first;
    return [table ? { kind: 'rebuild', table, what: 'CLUSTER' } : { kind: 'rebuild', what: 'CLUSTER' }];
  }
  if (c.acceptWords('REFRESH', 'MATERIALIZED', 'VIEW')) {
    if (c.acceptWords('CONCURRENTLY')) return [{ kind: 'ddl', what: 'REFRESH MATERIALIZED VIEW CONCURRENTLY' }];
    const view = c.tableName();
    return [
      view ? { kind: 'rebuild', table: view, what: 'REFRESH MATERIALIZED VIEW' } : { kind: 'rebuild', what: 'REFRESH MATERIALIZED VIEW' },
    ];
  }
  return undefined;
}

function create(c: Cursor): ReturnType<typeof factsFromTokens> {
  c.acceptWords('OR', 'REPLACE');
  c.acceptWords('DEFINER');
  c.acceptWords('UNIQUE');
  const fulltext = c.acceptWords('FULLTEXT') || c.acceptWords('SPATIAL');
  if (c.acceptWords('INDEX')) {
    const concurrently = c.acceptWords('CONCURRENTLY');
    c.acceptWords('IF', 'NOT', 'EXISTS');
    // The index name is optional on PostgreSQL; ON is a reserved word, so it cannot be one.
    const name = c.isWord('ON') ? undefined : c.name();
    c.skipUntilWord('ON');
    c.acceptWords('ON');
    const only = c.acceptWords('ONLY');
    const table = c.tableName();
    if (!table) return { facts: [] };
    if (c.acceptWords('USING')) c.name();
    const keys = c.isPunct('(')
      ? c
          .parenthesized()
          .splitTopLevel()
          .map((key) => key.plainName())
      : [];
    const columns = keys.length > 0 && keys.every((k): k is string => k !== undefined) ? keys : undefined;
    // MySQL: CREATE INDEX … ALGORITHM [=] x LOCK [=] y
    const alter: { table: string; algorithm?: string; lock?: string } = { table };
    const rest = c.remaining();
    rest.forEach((t, i) => {
      if (t.kind !== 'word' || (t.value !== 'ALGORITHM' && t.value !== 'LOCK')) return;
      const value = rest[i + 1]?.value === '=' ? rest[i + 2] : rest[i + 1];
      if (value?.kind === 'word') alter[t.value === 'ALGORITHM' ? 'algorithm' : 'lock'] = value.value;
    });
    return {
      facts: [
        c.engine === 'mysql'
          ? { kind: 'createIndex', table, concurrently, fulltext: fulltext || undefined }
          : { kind: 'createIndex', table, concurrently, name, columns, only: only || undefined },
      ],
      alter: c.engine === 'mysql' ? alter : undefined,
    };
  }
  c.acceptAnyWord('GLOBAL', 'LOCAL');
  c.acceptAnyWord('TEMPORARY', 'TEMP', 'UNLOGGED');
  if (c.acceptWords('TABLE')) {
    const ifNotExists = c.acceptWords('IF', 'NOT', 'EXISTS');
    const table = c.tableName();
    return { facts: table ? [{ kind: 'createTable', table, ifNotExists }] : [] };
  }
  return { facts: [{ kind: 'ddl', what: `CREATE ${c.peekWord() ?? ''}`.trim() }] };
}

function drop(c: Cursor): Fact[] {
  c.acceptWords('TEMPORARY');
  if (c.acceptWords('TABLE') || c.acceptWords('TABLES')) {
    c.acceptWords('IF', 'EXISTS');
    const facts: Fact[] = [];
    for (;;) {
      const table = c.tableName();
      if (!table) break;
      facts.push({ kind: 'dropTable', table });
      if (!c.acceptPunct(',')) break;
    }
    return facts;
  }
  if (c.acceptWords('INDEX')) {
    const concurrently = c.acceptWords('CONCURRENTLY');
    c.acceptWords('IF', 'EXISTS');
    c.name();
    const table = c.acceptWords('ON') ? c.tableName() : undefined;
    return [{ kind: 'dropIndex', table, concurrently }];
  }
  return [{ kind: 'ddl', what: `DROP ${c.peekWord() ?? ''}`.trim() }];
}

function alterTable(c: Cursor): { facts: Fact[]; alter?: { table: string; algorithm?: string; lock?: string } } {
  c.acceptWords('IF', 'EXISTS');
  c.acceptWords('ONLY');
  const table = c.tableName();
  if (!table) return { facts: [{ kind: 'ddl', what: 'ALTER TABLE' }] };
  c.acceptPunct('*');
  const alter: { table: string; algorithm?: string; lock?: string } = { table };
  const clauses = c.splitTopLevel();
  const addsPrimaryKey = clauses.some((k) => k.startsWith('ADD') && k.containsWords('PRIMARY', 'KEY'));
  const facts: Fact[] = [];
  for (const clause of clauses) facts.push(...alterClause(clause, table, alter, addsPrimaryKey));
  return { facts, alter };
}

const CONSTRAINT_WORDS = [
  'CONSTRAINT',
  'FOREIGN',
  'CHECK',
  'UNIQUE',
  'PRIMARY',
  'EXCLUDE',
  'INDEX',
  'KEY',
  'FULLTEXT',
  'SPATIAL',
  'PARTITION',
  'PERIOD',
  'SYSTEM',
];

function alterClause(k: Cursor, table: string, alter: { algorithm?: string; lock?: string }, addsPrimaryKey: boolean): Fact[] {
  const mysql = k.engine === 'mysql';
  if (k.acceptWords('ALGORITHM') || k.acceptWords('LOCK')) {
    const option = k.previousWord();
    k.acceptPunct('=');
    const value = k.peekWord() ?? '';
    if (option === 'ALGORITHM') alter.algorithm = value;
    else alter.lock = value;
    return [];
  }
  if (k.acceptWords('ADD')) {
    if (k.acceptWords('COLUMN')) return addColumns(k, table);
    if (k.isAnyWord(CONSTRAINT_WORDS)) return addConstraint(k, table);
    return addColumns(k, table);
  }
  if (k.acceptWords('DROP')) {
    if (k.acceptWords('COLUMN')) {
      k.acceptWords('IF', 'EXISTS');
      const column = k.name();
      return column ? [{ kind: 'dropColumn', table, column }] : [];
    }
    if (k.acceptWords('PRIMARY', 'KEY')) {
      return mysql && !addsPrimaryKey
        ? [{ kind: 'offline', table, what: 'DROP PRIMARY KEY without adding a new one' }]
        : [{ kind: 'alterOther', table, what: 'DROP PRIMARY KEY' }];
    }
    if (k.acceptWords('INDEX') || k.acceptWords('KEY')) return [{ kind: 'dropIndex', table, concurrently: false }];
    if (k.isAnyWord(['CONSTRAINT', 'FOREIGN', 'CHECK']))
      return [mysql ? { kind: 'metadata', table } : { kind: 'alterOther', table, what: 'DROP CONSTRAINT' }];
    if (k.isAnyWord(['PARTITION', 'DEFAULT', 'EXPRESSION', 'IDENTITY', 'PERIOD', 'SYSTEM']))
      return [{ kind: 'alterOther', table, what: `DROP ${k.peekWord()}` }];
    k.acceptWords('IF', 'EXISTS');
    const column = k.name();
    return column ? [{ kind: 'dropColumn', table, column }] : [];
  }
  if (k.acceptWords('ALTER')) {
    if (mysql && k.isAnyWord(['INDEX', 'KEY', 'CHECK', 'CONSTRAINT'])) return [{ kind: 'metadata', table }];
    if (!mysql && k.isAnyWord(['CONSTRAINT'])) return [{ kind: 'alterOther', table, what: 'ALTER CONSTRAINT' }];
    k.acceptWords('COLUMN');
    const column = k.name();
    if (!column) return [{ kind: 'alterOther', table, what: 'ALTER' }];
    if (k.acceptWords('TYPE') || k.acceptWords('SET', 'DATA', 'TYPE')) return [{ kind: 'changeType', table, column }];
    if (k.acceptWords('SET', 'NOT', 'NULL')) return [{ kind: 'setNotNull', table, column }];
    if (k.isWord('SET') || k.isWord('DROP')) {
      const what = k.rest();
      if (/^(SET|DROP) DEFAULT\b/.test(what) || /^SET (VISIBLE|INVISIBLE)\b/.test(what))
        return [mysql ? { kind: 'metadata', table } : { kind: 'alterOther', table, what }];
      if (/^SET EXPRESSION\b/.test(what)) return [{ kind: 'changeType', table, column }];
    }
    return [{ kind: 'alterOther', table, what: `ALTER COLUMN ${k.rest()}`.trim() }];
  }
  if (k.acceptWords('MODIFY')) {
    k.acceptWords('COLUMN');
    k.acceptWords('IF', 'EXISTS');
    const column = k.name();
    return column ? [{ kind: 'changeType', table, column }] : [];
  }
  if (k.acceptWords('CHANGE')) {
    k.acceptWords('COLUMN');
    k.acceptWords('IF', 'EXISTS');
    const from = k.name();
    const to = k.name();
    if (!from || !to) return [];
    const facts: Fact[] = [{ kind: 'changeType', table, column: to }];
    if (from !== to) facts.unshift({ kind: 'renameColumn', table, from, to });
    return facts;
  }
  if (k.acceptWords('RENAME')) {
    if (k.acceptWords('TO') || k.acceptWords('AS')) {
      const to = k.tableName();
      return to ? [{ kind: 'renameTable', table, to: renamedTo(k.engine, table, to) }] : [];
    }
    if (k.isAnyWord(['INDEX', 'KEY', 'CONSTRAINT']))
      return [mysql ? { kind: 'metadata', table } : { kind: 'alterOther', table, what: `RENAME ${k.peekWord()}` }];
    const explicitColumn = k.acceptWords('COLUMN');
    const from = k.name();
    if (!from) return [];
    if (!k.acceptWords('TO')) return !explicitColumn && mysql ? [{ kind: 'renameTable', table, to: from }] : [];
    const to = k.name();
    return to ? [{ kind: 'renameColumn', table, from, to }] : [];
  }
  if (!mysql && k.isWord('SET')) {
    for (const what of [
      ['SET', 'TABLESPACE'],
      ['SET', 'LOGGED'],
      ['SET', 'UNLOGGED'],
    ])
      if (k.acceptWords(...what)) return [{ kind: 'rebuild', table, what: what.join(' ') }];
  }
  if (k.acceptWords('VALIDATE', 'CONSTRAINT')) {
    const name = k.name();
    return name ? [{ kind: 'validateConstraint', table, name }] : [];
  }
  if (k.acceptWords('CONVERT', 'TO'))
    return [mysql ? { kind: 'offline', table, what: 'CONVERT TO CHARACTER SET' } : { kind: 'alterOther', table, what: 'CONVERT' }];
  if (mysql && (k.acceptWords('ORDER', 'BY') || k.acceptWords('PARTITION', 'BY') || k.acceptWords('REMOVE', 'PARTITIONING'))) {
    return [{ kind: 'offline', table, what: k.rest().split(' ').slice(0, 2).join(' ') || 'partitioning' }];
  }
  if (mysql && k.isAnyWord(['COMMENT'])) return [{ kind: 'metadata', table }];
  return [{ kind: 'alterOther', table, what: k.rest() }];
}

/** PostgreSQL: ALTER TABLE s.t RENAME TO u leaves the table in schema s. */
function renamedTo(engine: LintEngine, table: string, to: string): string {
  const dot = table.lastIndexOf('.');
  return engine === 'postgres' && dot >= 0 && !to.includes('.') ? `${table.slice(0, dot)}.${to}` : to;
}

function addColumns(k: Cursor, table: string): Fact[] {
  k.acceptWords('IF', 'NOT', 'EXISTS');
  if (k.isPunct('(')) {
    // MySQL: ADD COLUMN (a int, b int)
    const inner = k.parenthesized();
    return inner.splitTopLevel().flatMap((def) => columnDefinition(def, table));
  }
  return columnDefinition(k, table);
}

const COLUMN_CONSTRAINT_WORDS = new Set([
  'NOT',
  'NULL',
  'DEFAULT',
  'CONSTRAINT',
  'PRIMARY',
  'UNIQUE',
  'CHECK',
  'REFERENCES',
  'GENERATED',
  'AS',
  'COLLATE',
  'AUTO_INCREMENT',
  'COMMENT',
  'INVISIBLE',
  'VISIBLE',
  'FIRST',
  'AFTER',
  'ON',
  'STORAGE',
  'COMPRESSION',
  'KEY',
  'COLUMN_FORMAT',
  'ENGINE_ATTRIBUTE',
]);

/** `name type [constraints…]` at the cursor. */
function columnDefinition(k: Cursor, table: string): Fact[] {
  const column = k.name();
  if (!column) return [];
  const typeTokens: Token[] = [];
  let depth = 0;
  while (!k.done()) {
    const t = k.peek()!;
    if (depth === 0 && t.kind === 'word' && COLUMN_CONSTRAINT_WORDS.has(t.value)) break;
    if (t.kind === 'punct' && t.value === '(') depth += 1;
    if (t.kind === 'punct' && t.value === ')') depth -= 1;
    typeTokens.push(k.next()!);
  }
  const facts: Fact[] = [];
  let notNull = false;
  let hasDefault = false;
  let perRowValue: string | undefined =
    typeTokens[0] && SERIAL_TYPES.has(typeTokens[0].value.toLowerCase()) ? typeTokens[0].value.toLowerCase() : undefined;
  if (perRowValue) hasDefault = true;
  let constraintName: string | undefined;
  while (!k.done()) {
    if (k.acceptWords('NOT', 'NULL')) {
      notNull = true;
    } else if (k.acceptWords('CONSTRAINT')) {
      constraintName = k.name();
    } else if (k.acceptWords('DEFAULT')) {
      hasDefault = true;
      const expression = k.expressionUntil(COLUMN_CONSTRAINT_WORDS);
      perRowValue ??= perRowCall(expression);
    } else if (k.acceptWords('AUTO_INCREMENT')) {
      hasDefault = true;
      perRowValue ??= 'AUTO_INCREMENT';
    } else if (k.acceptWords('GENERATED')) {
      hasDefault = true;
      const rest = k.expressionUntil(
        new Set([
          'NOT',
          'NULL',
          'CONSTRAINT',
          'PRIMARY',
          'UNIQUE',
          'CHECK',
          'REFERENCES',
          'COMMENT',
          'INVISIBLE',
          'VISIBLE',
          'FIRST',
          'AFTER',
        ]),
      );
      const words = rest.filter((t) => t.kind === 'word').map((t) => t.value);
      if (words.includes('IDENTITY')) perRowValue ??= 'an identity column';
      else if (words.includes('STORED') || words.includes('PERSISTENT')) perRowValue ??= 'a stored generated column';
    } else if (k.acceptWords('AS')) {
      // MySQL: `AS (expr) [VIRTUAL|STORED]` without GENERATED ALWAYS.
      hasDefault = true;
      const rest = k.expressionUntil(
        new Set(['NOT', 'NULL', 'UNIQUE', 'PRIMARY', 'COMMENT', 'INVISIBLE', 'VISIBLE', 'FIRST', 'AFTER', 'CHECK']),
      );
      if (rest.some((t) => t.kind === 'word' && (t.value === 'STORED' || t.value === 'PERSISTENT')))
        perRowValue ??= 'a stored generated column';
    } else if (k.acceptWords('PRIMARY', 'KEY')) {
      if (k.engine === 'postgres') notNull = true;
      facts.push(constraintFact(k.engine, table, 'primary', constraintName, false));
    } else if (k.acceptWords('UNIQUE')) {
      k.acceptWords('KEY');
      facts.push(constraintFact(k.engine, table, 'unique', constraintName, false));
    } else if (k.acceptWords('REFERENCES')) {
      k.name();
      if (k.isPunct('(')) k.parenthesized();
      facts.push(constraintFact(k.engine, table, 'foreign', constraintName, false));
    } else if (k.acceptWords('CHECK')) {
      const body = k.isPunct('(') ? k.parenthesized() : undefined;
      const notValid = k.acceptWords('NOT', 'VALID');
      facts.push({
        ...constraintFact(k.engine, table, 'check', constraintName, notValid),
        ...(body ? { notNullColumn: body.notNullColumn() } : {}),
      } as Fact);
    } else {
      k.next();
    }
  }
  return [{ kind: 'addColumn', table, column, notNull, hasDefault, perRowValue }, ...facts];
}

function constraintFact(engine: LintEngine, table: string, constraint: ConstraintKind, name: string | undefined, notValid: boolean): Fact {
  if (engine === 'mysql' && (constraint === 'unique' || constraint === 'primary')) {
    return constraint === 'unique'
      ? { kind: 'createIndex', table, concurrently: false }
      : { kind: 'alterOther', table, what: 'ADD PRIMARY KEY' };
  }
  return { kind: 'addConstraint', table, constraint, name, notValid, usingIndex: false };
}

function addConstraint(k: Cursor, table: string): Fact[] {
  const mysql = k.engine === 'mysql';
  let name: string | undefined;
  if (k.acceptWords('CONSTRAINT')) {
    if (!k.isAnyWord(['FOREIGN', 'CHECK', 'UNIQUE', 'PRIMARY', 'EXCLUDE'])) name = k.name();
  }
  if (mysql && (k.isAnyWord(['INDEX', 'KEY', 'FULLTEXT', 'SPATIAL']) || k.isWord('UNIQUE'))) {
    const fulltext = k.isAnyWord(['FULLTEXT', 'SPATIAL']);
    return [{ kind: 'createIndex', table, concurrently: false, fulltext: fulltext || undefined }];
  }
  if (k.isWord('PARTITION') || k.isWord('PERIOD') || k.isWord('SYSTEM'))
    return [{ kind: 'alterOther', table, what: `ADD ${k.peekWord()}` }];
  const kind: ConstraintKind | undefined = k.acceptWords('FOREIGN')
    ? 'foreign'
    : k.acceptWords('CHECK')
      ? 'check'
      : k.acceptWords('UNIQUE')
        ? 'unique'
        : k.acceptWords('PRIMARY')
          ? 'primary'
          : k.acceptWords('EXCLUDE')
            ? 'exclude'
            : undefined;
  if (!kind) return [{ kind: 'alterOther', table, what: `ADD ${k.rest()}` }];
  if (mysql && kind === 'primary') return [{ kind: 'alterOther', table, what: 'ADD PRIMARY KEY' }];
  const notNullColumn = kind === 'check' && k.isPunct('(') ? k.parenthesized().notNullColumn() : undefined;
  const words = k.restWords();
  const notValid = words.some((w, i) => w === 'NOT' && words[i + 1] === 'VALID');
  const usingIndex = words.some((w, i) => w === 'USING' && words[i + 1] === 'INDEX') && !k.containsPunct('(');
  const index = usingIndex ? k.nameAfterWords('USING', 'INDEX') : undefined;
  return [{ kind: 'addConstraint', table, constraint: kind, name, notValid, usingIndex, index, notNullColumn }];
}

function set(c: Cursor): Fact[] {
  c.acceptWords('SET');
  let global = false;
  if (c.acceptAnyWord('GLOBAL', 'PERSIST', 'PERSIST_ONLY')) global = true;
  else c.acceptAnyWord('SESSION', 'LOCAL');
  const facts: Fact[] = [];
  for (const assignment of c.splitTopLevel()) {
    let scopeGlobal = global;
    if (assignment.acceptPunct('@')) {
      if (!assignment.acceptPunct('@')) continue; // a user variable
      const scope = assignment.peekWord();
      if (scope && ['GLOBAL', 'SESSION', 'LOCAL', 'PERSIST'].includes(scope) && assignment.isPunctAt(1, '.')) {
        scopeGlobal = scope === 'GLOBAL' || scope === 'PERSIST';
        assignment.next();
        assignment.next();
      }
    }
    const name = assignment.name();
    if (
      !name ||
      !(assignment.acceptPunct('=') || assignment.acceptWords('TO') || (assignment.acceptPunct(':') && assignment.acceptPunct('=')))
    )
      continue;
    const tokens = assignment.remaining();
    if (tokens.length !== 1) continue;
    facts.push({
      kind: 'setting',
      name,
      raw: tokens[0].value.toUpperCase(),
      value: settingValue(c.engine, tokens[0].value),
      scope: scopeGlobal ? 'global' : 'session',
    });
  }
  return facts.length > 0 ? facts : [{ kind: 'dml' }];
}

/**
 * MariaDB: SET STATEMENT var = value [, …] FOR <statement>. The settings hold
 * for that one statement; foreign_key_checks = 0 lets a foreign key be added
 * in place, without checking the rows already there.
 */
function setStatement(c: Cursor): ReturnType<typeof factsFromTokens> {
  const settings: Token[] = [];
  let depth = 0;
  while (!c.done() && !(depth === 0 && c.isWord('FOR'))) {
    const t = c.next()!;
    if (t.value === '(') depth += 1;
    if (t.value === ')') depth -= 1;
    settings.push(t);
  }
  c.acceptWords('FOR');
  const facts = set(new Cursor([{ kind: 'word', value: 'SET', text: 'SET' }, ...settings], c.engine)).flatMap((f) =>
    f.kind === 'setting' ? [{ ...f, scope: 'statement' as const }] : [],
  );
  const inner = factsFromTokens(c.remaining(), c.engine);
  const checksOff = facts.some((f) => f.kind === 'setting' && f.name === 'foreign_key_checks' && (f.raw === '0' || f.raw === 'OFF'));
  return { facts: [...facts, ...(checksOff ? withoutForeignKeyChecks(inner.facts) : inner.facts)], alter: inner.alter };
}

/** With foreign_key_checks off, a new foreign key does not check the rows already there. */
export function withoutForeignKeyChecks(facts: readonly Fact[]): Fact[] {
  return facts.map((f) => (f.kind === 'addConstraint' && f.constraint === 'foreign' ? { ...f, notValid: true } : f));
}

/** SELECT set_config('lock_timeout', '0', false) */
function setConfigCall(tokens: readonly Token[]): Fact | undefined {
  for (let i = 0; i + 5 < tokens.length; i++) {
    const t = tokens;
    if (
      t[i].kind === 'word' &&
      t[i].value === 'SET_CONFIG' &&
      t[i + 1].value === '(' &&
      t[i + 2].kind === 'string' &&
      t[i + 3].value === ',' &&
      (t[i + 4].kind === 'string' || t[i + 4].kind === 'number')
    ) {
      const name = t[i + 2].value.toLowerCase();
      return {
        kind: 'setting',
        name,
        raw: t[i + 4].value.toUpperCase(),
        value: settingValue('postgres', t[i + 4].value),
        scope: 'session',
      };
    }
  }
  return undefined;
}

function perRowCall(expression: readonly Token[]): string | undefined {
  for (let i = 0; i + 1 < expression.length; i++) {
    const t = expression[i];
    if (t.kind === 'word' && expression[i + 1].value === '(' && PER_ROW_FUNCTIONS.has(t.value.toLowerCase()))
      return `${t.value.toLowerCase()}()`;
  }
  return undefined;
}

/**
 * A token read as a name, case-folded as the engine does; undefined if it
 * cannot be one. On MySQL/MariaDB a "double-quoted" string is taken as a
 * name where one is expected: under sql_mode ANSI_QUOTES it is one, and
 * elsewhere the server would refuse the statement anyway.
 */
function nameOf(t: Token, engine: LintEngine): string | undefined {
  if (t.kind === 'word') return t.text.toLowerCase();
  if (t.kind === 'ident') return engine === 'mysql' ? t.value.toLowerCase() : t.value;
  if (t.kind === 'string' && engine === 'mysql' && t.text.startsWith('"')) return t.value.toLowerCase();
  return undefined;
}

/** A read position over tokens, with the few moves the fallback needs. */
class Cursor {
  #i = 0;

  constructor(
    private readonly tokens: readonly Token[],
    readonly engine: LintEngine,
  ) {}

  done(): boolean {
    return this.#i >= this.tokens.length || (this.tokens[this.#i].kind === 'punct' && this.tokens[this.#i].value === ';');
  }

  peek(offset = 0): Token | undefined {
    return this.tokens[this.#i + offset];
  }

  next(): Token | undefined {
    return this.tokens[this.#i++];
  }

  peekWord(): string | undefined {
    const t = this.peek();
    return t?.kind === 'word' ? t.value : undefined;
  }

  previousWord(): string | undefined {
    const t = this.tokens[this.#i - 1];
    return t?.kind === 'word' ? t.value : undefined;
  }

  isWord(word: string): boolean {
    return this.peekWord() === word;
  }

  isAnyWord(words: readonly string[]): boolean {
    const w = this.peekWord();
    return w !== undefined && words.includes(w);
  }

  isPunct(value: string): boolean {
    const t = this.peek();
    return t?.kind === 'punct' && t.value === value;
  }

  isPunctAt(offset: number, value: string): boolean {
    const t = this.peek(offset);
    return t?.kind === 'punct' && t.value === value;
  }

  /** Consumes the words if all of them come next, in order. */
  acceptWords(...words: string[]): boolean {
    for (let j = 0; j < words.length; j++) {
      const t = this.tokens[this.#i + j];
      if (t?.kind !== 'word' || t.value !== words[j]) return false;
    }
    this.#i += words.length;
    return true;
  }

  /** Consumes the next word if it is one of these. */
  acceptAnyWord(...words: string[]): boolean {
    return words.some((w) => this.acceptWords(w));
  }

  /** The whole token list (not the rest) starts with these words. */
  startsWith(...words: string[]): boolean {
    return words.every((w, j) => {
      const t = this.tokens[j];
      return t?.kind === 'word' && t.value === w;
    });
  }

  acceptPunct(value: string): boolean {
    if (!this.isPunct(value)) return false;
    this.#i += 1;
    return true;
  }

  containsWords(...words: string[]): boolean {
    for (let i = 0; i + words.length <= this.tokens.length; i++) {
      if (words.every((w, j) => this.tokens[i + j].kind === 'word' && this.tokens[i + j].value === w)) return true;
    }
    return false;
  }

  containsPunct(value: string): boolean {
    return this.tokens.slice(this.#i).some((t) => t.kind === 'punct' && t.value === value);
  }

  skipUntilWord(word: string): void {
    while (!this.done() && !this.isWord(word)) this.#i += 1;
  }

  /** A possibly qualified name; returns its last part, case-folded as the engine does. */
  name(): string | undefined {
    const parts = this.nameParts();
    return parts[parts.length - 1];
  }

  /** A possibly qualified table name, as written: its parts joined by dots, each case-folded as the engine does. */
  tableName(): string | undefined {
    const parts = this.nameParts();
    return parts.length > 0 ? parts.join('.') : undefined;
  }

  private nameParts(): string[] {
    const parts: string[] = [];
    for (;;) {
      const part = this.peek() && nameOf(this.peek()!, this.engine);
      if (part === undefined) break;
      parts.push(part);
      this.#i += 1;
      if (!this.acceptPunct('.')) break;
    }
    return parts;
  }

  /** The whole cursor is one name, unqualified (an index key that is a plain column): that name. */
  plainName(): string | undefined {
    if (this.tokens.length !== 1) return undefined;
    return this.name();
  }

  /** The name right after these words, wherever they are in the rest. */
  nameAfterWords(...words: string[]): string | undefined {
    const rest = this.remaining();
    for (let i = 0; i + words.length < rest.length; i++) {
      if (!words.every((w, j) => rest[i + j].kind === 'word' && rest[i + j].value === w)) continue;
      return new Cursor(rest.slice(i + words.length), this.engine).name();
    }
    return undefined;
  }

  /** The tokens of a parenthesized group at the cursor (consumed), as a new cursor. */
  parenthesized(): Cursor {
    const start = this.#i + 1;
    let depth = 0;
    while (this.#i < this.tokens.length) {
      const t = this.tokens[this.#i++];
      if (t.kind === 'punct' && t.value === '(') depth += 1;
      if (t.kind === 'punct' && t.value === ')' && --depth === 0) return new Cursor(this.tokens.slice(start, this.#i - 1), this.engine);
    }
    return new Cursor(this.tokens.slice(start), this.engine);
  }

  /** The rest, split on commas outside parentheses. */
  splitTopLevel(): Cursor[] {
    const parts: Cursor[] = [];
    let part: Token[] = [];
    let depth = 0;
    while (!this.done()) {
      const t = this.next()!;
      if (t.kind === 'punct' && t.value === '(') depth += 1;
      if (t.kind === 'punct' && t.value === ')') depth -= 1;
      if (depth === 0 && t.kind === 'punct' && t.value === ',') {
        parts.push(new Cursor(part, this.engine));
        part = [];
      } else {
        part.push(t);
      }
    }
    if (part.length > 0) parts.push(new Cursor(part, this.engine));
    return parts;
  }

  /** Tokens up to (not including) one of the words at depth 0; consumed. */
  expressionUntil(stop: ReadonlySet<string>): Token[] {
    const out: Token[] = [];
    let depth = 0;
    while (!this.done()) {
      const t = this.peek()!;
      if (depth === 0 && out.length > 0 && t.kind === 'word' && stop.has(t.value)) break;
      if (t.kind === 'punct' && t.value === '(') depth += 1;
      if (t.kind === 'punct' && t.value === ')') depth -= 1;
      out.push(this.next()!);
    }
    return out;
  }

  remaining(): Token[] {
    return this.tokens.slice(this.#i).filter((t) => !(t.kind === 'punct' && t.value === ';'));
  }

  rest(): string {
    return this.remaining()
      .map((t) => (t.kind === 'word' ? t.value : t.text))
      .join(' ');
  }

  restWords(): string[] {
    return this.remaining()
      .filter((t) => t.kind === 'word')
      .map((t) => t.value);
  }

  /** `name IS NOT NULL`, the whole group: the column name. */
  notNullColumn(): string | undefined {
    const t = this.tokens;
    let body = t;
    while (body.length >= 2 && body[0].value === '(' && body[body.length - 1].value === ')') body = body.slice(1, -1);
    if (body.length !== 4) return undefined;
    if (![1, 2, 3].every((j, n) => body[j].kind === 'word' && body[j].value === ['IS', 'NOT', 'NULL'][n])) return undefined;
    return nameOf(body[0], this.engine);
  }
}
