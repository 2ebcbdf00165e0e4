import type { Fact } from './statement';
import { PER_ROW_FUNCTIONS, settingValue } from './values';

/**
 * Facts from node-sql-parser's MySQL grammar (it serves MariaDB too). Its
 * DDL coverage has gaps (INVISIBLE, ALTER COLUMN … SET DEFAULT, RENAME INDEX,
 * compound statements): what it cannot parse, or parses into a shape this
 * file does not know, goes to the tokenizer instead (NotUnderstood).
 */
export type MysqlParse = (sql: string) => unknown;

export class NotUnderstood extends Error {}

let loading: Promise<MysqlParse> | undefined;

export function loadMysqlParser(): Promise<MysqlParse> {
  loading ??= (async () => {
    const { Parser } = await import('node-sql-parser/build/mysql');
    const parser = new Parser();
    return (sql: string) => parser.astify(sql, { database: 'mysql' });
  })();
  return loading;
}

type Json = Record<string, unknown>;

export function factsFromMysql(ast: unknown): { facts: Fact[]; alter?: { table: string; algorithm?: string; lock?: string } } {
  const statements = Array.isArray(ast) ? ast : [ast];
  if (statements.length !== 1) throw new NotUnderstood('several statements');
  const s = object(statements[0]);
  switch (s.type) {
    case 'create':
      return create(s);
    case 'drop':
      return { facts: drop(s) };
    case 'rename':
      return {
        facts: array(s.table).map((pair) => ({ kind: 'renameTable', table: tableName(array(pair)[0]), to: tableName(array(pair)[1]) })),
      };
    case 'alter':
      return alter(s);
    case 'truncate':
      return { facts: array(s.name).map((n) => ({ kind: 'truncate', table: tableName(n) })) };
    case 'set':
      return { facts: set(s) };
    case 'transaction':
      return { facts: [{ kind: 'transaction', verb: String(object(object(s.expr).action).value ?? '').toUpperCase() }] };
    case 'select':
    case 'insert':
    case 'replace':
    case 'update':
    case 'delete':
      return { facts: [{ kind: 'dml' }] };
    default:
      throw new NotUnderstood(`statement type ${String(s.type)}`);
  }
}

function create(s: Json): ReturnType<typeof factsFromMysql> {
  if (s.keyword === 'table')
    return { facts: [{ kind: 'createTable', table: tableName(array(s.table)[0]), ifNotExists: Boolean(s.if_not_exists) }] };
  if (s.keyword === 'index') {
    const table = tableName(s.table);
    const fulltext = s.index_type === 'fulltext' || s.index_type === 'spatial';
    const algorithm = s.algorithm_option ? String(object(s.algorithm_option).algorithm).toUpperCase() : undefined;
    const lock = s.lock_option ? String(object(s.lock_option).lock).toUpperCase() : undefined;
    return {
      facts: [{ kind: 'createIndex', table, concurrently: false, fulltext: fulltext || undefined }],
      alter: { table, algorithm, lock },
    };
  }
  throw new NotUnderstood(`CREATE ${String(s.keyword)}`);
}

function drop(s: Json): Fact[] {
  if (s.keyword === 'table') return array(s.name).map((n) => ({ kind: 'dropTable', table: tableName(n) }));
  if (s.keyword === 'index') return [{ kind: 'dropIndex', table: s.table ? tableName(s.table) : undefined, concurrently: false }];
  throw new NotUnderstood(`DROP ${String(s.keyword)}`);
}

function alter(s: Json): { facts: Fact[]; alter: { table: string; algorithm?: string; lock?: string } } {
  const table = tableName(array(s.table)[0]);
  const options: { table: string; algorithm?: string; lock?: string } = { table };
  const clauses = array(s.expr).map(object);
  const addsPrimaryKey = clauses.some(
    (c) => c.action === 'add' && String(object(c.create_definitions ?? {}).constraint_type ?? '').toLowerCase() === 'primary key',
  );
  const facts: Fact[] = [];
  for (const c of clauses) {
    if (c.resource === 'algorithm') {
      options.algorithm = String(c.algorithm).toUpperCase();
    } else if (c.resource === 'lock') {
      options.lock = String(c.lock).toUpperCase();
    } else if (c.action === 'add' && c.resource === 'column') {
      facts.push(addColumn(table, c));
    } else if (c.action === 'add' && c.resource === 'index') {
      const keyword = String(c.keyword ?? '');
      facts.push({ kind: 'createIndex', table, concurrently: false, fulltext: /fulltext|spatial/i.test(keyword) || undefined });
    } else if (c.action === 'add' && c.resource === 'constraint') {
      facts.push(addConstraint(table, object(c.create_definitions)));
    } else if (c.action === 'drop' && c.resource === 'column') {
      facts.push({ kind: 'dropColumn', table, column: columnName(c.column) });
    } else if (c.action === 'drop' && c.resource === 'index') {
      facts.push({ kind: 'dropIndex', table, concurrently: false });
    } else if (c.action === 'drop' && c.resource === 'key' && c.keyword === 'primary key') {
      facts.push(
        addsPrimaryKey
          ? { kind: 'alterOther', table, what: 'DROP PRIMARY KEY' }
          : { kind: 'offline', table, what: 'DROP PRIMARY KEY without adding a new one' },
      );
    } else if (c.action === 'drop' && (c.resource === 'key' || c.resource === 'constraint' || c.resource === 'check')) {
      facts.push({ kind: 'metadata', table });
    } else if (c.action === 'modify') {
      facts.push({ kind: 'changeType', table, column: columnName(c.column) });
    } else if (c.action === 'change') {
      const from = columnName(c.old_column);
      const to = columnName(c.column);
      if (from !== to) facts.push({ kind: 'renameColumn', table, from, to });
      facts.push({ kind: 'changeType', table, column: to });
    } else if (c.action === 'rename' && c.resource === 'column') {
      facts.push({ kind: 'renameColumn', table, from: columnName(c.old_column), to: columnName(c.column) });
    } else if (c.action === 'rename' && c.resource === 'table') {
      facts.push({ kind: 'renameTable', table, to: String(c.table).toLowerCase() });
    } else if (c.resource === 'comment') {
      facts.push({ kind: 'metadata', table });
    } else if (typeof c.resource === 'string' && c.type === 'alter' && c.action === undefined) {
      facts.push({ kind: 'alterOther', table, what: c.resource.toUpperCase() });
    } else {
      throw new NotUnderstood(`ALTER TABLE clause ${String(c.action)} ${String(c.resource)}`);
    }
  }
  return { facts, alter: options };
}

function addColumn(table: string, c: Json): Fact {
  const column = columnName(c.column);
  const notNull = object(c.nullable ?? {}).type === 'not null' || c.primary_key !== undefined;
  const defaultValue = c.default_val ? object(object(c.default_val).value) : undefined;
  let perRowValue: string | undefined;
  if (defaultValue) perRowValue = perRowCall(defaultValue);
  if (c.auto_increment) perRowValue ??= 'AUTO_INCREMENT';
  const generated = c.generated ? object(c.generated) : undefined;
  if (generated && String(generated.storage_type ?? '').toLowerCase() === 'stored') perRowValue ??= 'a stored generated column';
  if (c.unique || c.check || c.reference_definition) throw new NotUnderstood('inline constraint');
  const hasDefault = Boolean((defaultValue && defaultValue.type !== 'null') || c.auto_increment || generated);
  return { kind: 'addColumn', table, column, notNull, hasDefault, perRowValue };
}

function addConstraint(table: string, d: Json): Fact {
  const type = String(d.constraint_type ?? '').toLowerCase();
  const name = typeof d.constraint === 'string' ? d.constraint : undefined;
  if (type === 'foreign key') return { kind: 'addConstraint', table, constraint: 'foreign', name, notValid: false, usingIndex: false };
  if (type === 'check') return { kind: 'addConstraint', table, constraint: 'check', name, notValid: false, usingIndex: false };
  if (type === 'unique' || type === 'unique key' || type === 'unique index') return { kind: 'createIndex', table, concurrently: false };
  if (type === 'primary key') return { kind: 'alterOther', table, what: 'ADD PRIMARY KEY' };
  throw new NotUnderstood(`constraint ${type}`);
}

function set(s: Json): Fact[] {
  const global = /^(global|persist|persist_only)$/i.test(String(s.keyword ?? ''));
  const facts: Fact[] = [];
  for (const e of array(s.expr).map(object)) {
    const left = object(e.left);
    const members = array(left.members ?? []).map(String);
    const scoped = left.prefix === '@@' && members.length > 0;
    if (left.prefix === '@') continue; // a user variable
    const name = String(scoped ? members[members.length - 1] : left.name).toLowerCase();
    const scopeGlobal = global || (scoped && /^(global|persist)$/i.test(String(left.name)));
    const right = object(e.right);
    const raw =
      right.type === 'default'
        ? 'DEFAULT'
        : ['number', 'bool', 'single_quote_string', 'string', 'column_ref'].includes(String(right.type))
          ? String(right.value ?? right.column ?? '').toUpperCase()
          : undefined;
    if (raw === undefined) throw new NotUnderstood(`SET value of type ${String(right.type)}`);
    facts.push({ kind: 'setting', name, raw, value: settingValue('mysql', raw), scope: scopeGlobal ? 'global' : 'session' });
  }
  return facts;
}

function perRowCall(expr: unknown): string | undefined {
  if (Array.isArray(expr)) {
    for (const e of expr) {
      const found = perRowCall(e);
      if (found) return found;
    }
    return undefined;
  }
  if (!expr || typeof expr !== 'object') return undefined;
  const e = expr as Json;
  if (e.type === 'function') {
    const name = array(object(e.name).name)
      .map((n) => String(object(n).value ?? ''))
      .pop()
      ?.toLowerCase();
    if (name && PER_ROW_FUNCTIONS.has(name)) return `${name}()`;
  }
  for (const v of Object.values(e)) {
    const found = perRowCall(v);
    if (found) return found;
  }
  return undefined;
}

/** `db.table` when qualified, else `table`; lower case. */
function tableName(value: unknown): string {
  const t = object(value);
  if (typeof t.table !== 'string') throw new NotUnderstood('table name');
  return (typeof t.db === 'string' && t.db ? `${t.db}.${t.table}` : t.table).toLowerCase();
}

function columnName(value: unknown): string {
  const c = object(value);
  const column =
    typeof c.column === 'string'
      ? c.column
      : typeof object(c.column ?? {}).expr === 'object'
        ? object(object(c.column).expr).value
        : undefined;
  if (typeof column !== 'string') throw new NotUnderstood('column name');
  return column.toLowerCase();
}

function object(value: unknown): Json {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new NotUnderstood('unexpected shape');
  return value as Json;
}

function array(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new NotUnderstood('unexpected shape');
  return value;
}
