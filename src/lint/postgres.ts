import type { ColumnDef, Constraint, Node, ParseResult, RangeVar } from 'libpg-query';
import type { ConstraintKind, Fact } from './statement';
import { PER_ROW_FUNCTIONS, SERIAL_TYPES, settingValue } from './values';

/**
 * Facts from PostgreSQL's own parser (libpg-query: the server's grammar
 * compiled to WebAssembly), so whatever PostgreSQL accepts is understood.
 */
export type PostgresParse = (sql: string) => ParseResult;

let loading: Promise<PostgresParse> | undefined;

/** Loads the parser once, on first use: commands that do not lint never pay for it. */
export function loadPostgresParser(): Promise<PostgresParse> {
  loading ??= (async () => {
    const pg = await import('libpg-query');
    await pg.loadModule();
    return (sql: string) => pg.parseSync(sql);
  })();
  return loading;
}

export function factsFromPostgres(result: ParseResult): Fact[] {
  return (result.stmts ?? []).flatMap((raw) => (raw.stmt ? statementFacts(raw.stmt) : []));
}

const DML = new Set([
  'SelectStmt',
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'CopyStmt',
  'ExplainStmt',
  'CallStmt',
  'DoStmt',
  'PrepareStmt',
  'ExecuteStmt',
  'NotifyStmt',
  'ListenStmt',
  'VariableShowStmt',
]);

/** LOCK TABLE's modes by the parser's number, weakest first. */
const LOCK_MODES = [
  '',
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
];

function statementFacts(node: Node): Fact[] {
  if ('IndexStmt' in node) {
    const s = node.IndexStmt;
    const keys = (s.indexParams ?? []).map((p) => ('IndexElem' in p ? p.IndexElem.name : undefined));
    const columns = keys.every((k): k is string => typeof k === 'string') ? keys : undefined;
    return [
      {
        kind: 'createIndex',
        table: relationName(s.relation),
        concurrently: Boolean(s.concurrent),
        name: s.idxname,
        columns,
        only: (s.relation && !s.relation.inh) || undefined,
      },
    ];
  }
  if ('CreateStmt' in node) {
    const s = node.CreateStmt;
    return [{ kind: 'createTable', table: relationName(s.relation), ifNotExists: Boolean(s.if_not_exists) }];
  }
  if ('CreateTableAsStmt' in node && node.CreateTableAsStmt.objtype === 'OBJECT_TABLE') {
    const s = node.CreateTableAsStmt;
    return [{ kind: 'createTable', table: relationName(s.into?.rel), ifNotExists: Boolean(s.if_not_exists) }];
  }
  if ('DropStmt' in node) {
    const s = node.DropStmt;
    const names = (s.objects ?? []).map(qualifiedName);
    if (s.removeType === 'OBJECT_TABLE') return names.map((table) => ({ kind: 'dropTable', table }));
    if (s.removeType === 'OBJECT_INDEX') return names.map(() => ({ kind: 'dropIndex', concurrently: Boolean(s.concurrent) }));
    return [{ kind: 'ddl', what: `DROP ${String(s.removeType ?? '').replace(/^OBJECT_/, '')}` }];
  }
  if ('RenameStmt' in node) {
    const s = node.RenameStmt;
    const table = relationName(s.relation);
    // The new name is in the table's schema.
    const to = s.relation?.schemaname ? `${s.relation.schemaname}.${s.newname ?? ''}` : (s.newname ?? '');
    if (s.renameType === 'OBJECT_TABLE') return [{ kind: 'renameTable', table, to }];
    if (s.renameType === 'OBJECT_COLUMN' && s.relationType === 'OBJECT_TABLE')
      return [{ kind: 'renameColumn', table, from: s.subname ?? '', to: s.newname ?? '' }];
    return [{ kind: 'ddl', what: `RENAME ${String(s.renameType ?? '').replace(/^OBJECT_/, '')}` }];
  }
  if ('AlterTableStmt' in node) {
    const s = node.AlterTableStmt;
    if (s.objtype !== 'OBJECT_TABLE') return [{ kind: 'ddl', what: `ALTER ${String(s.objtype ?? '').replace(/^OBJECT_/, '')}` }];
    const table = relationName(s.relation);
    return (s.cmds ?? []).flatMap((cmd) => ('AlterTableCmd' in cmd ? alterCommand(table, cmd.AlterTableCmd) : []));
  }
  if ('VariableSetStmt' in node) {
    const s = node.VariableSetStmt;
    if (s.kind === 'VAR_RESET_ALL') return [{ kind: 'setting', name: '*', raw: 'DEFAULT', value: 'default', scope: 'session' }];
    const name = (s.name ?? '').toLowerCase();
    if (s.kind === 'VAR_SET_DEFAULT' || s.kind === 'VAR_RESET')
      return [{ kind: 'setting', name, raw: 'DEFAULT', value: 'default', scope: 'session' }];
    if (s.kind === 'VAR_SET_VALUE' && s.args?.length === 1) {
      const value = constantText(s.args[0]);
      return value === undefined
        ? []
        : [{ kind: 'setting', name, raw: value.toUpperCase(), value: settingValue('postgres', value), scope: 'session' }];
    }
    return [];
  }
  if ('AlterSystemStmt' in node) {
    const set = node.AlterSystemStmt.setstmt;
    return set ? statementFacts({ VariableSetStmt: set }).map((f) => (f.kind === 'setting' ? { ...f, scope: 'global' as const } : f)) : [];
  }
  if ('DiscardStmt' in node)
    return node.DiscardStmt.target === 'DISCARD_ALL'
      ? [{ kind: 'setting', name: '*', raw: 'DEFAULT', value: 'default', scope: 'session' }]
      : [];
  if ('LockStmt' in node) {
    const mode = LOCK_MODES[node.LockStmt.mode ?? 8] ?? 'ACCESS EXCLUSIVE';
    return relations(node.LockStmt.relations).map((table) => ({ kind: 'lockTable', table, mode }));
  }
  if ('TruncateStmt' in node) return relations(node.TruncateStmt.relations).map((table) => ({ kind: 'truncate', table }));
  if ('ReindexStmt' in node) {
    const s = node.ReindexStmt;
    if (hasOption(s.params, 'concurrently')) return [{ kind: 'ddl', what: 'REINDEX CONCURRENTLY' }];
    const kind = String(s.kind ?? '').replace(/^REINDEX_OBJECT_/, '');
    if (kind === 'TABLE') return [{ kind: 'rebuild', table: relationName(s.relation), what: 'REINDEX TABLE' }];
    if (kind === 'INDEX') return [{ kind: 'rebuild', what: `REINDEX INDEX ${relationName(s.relation)}`.trim() }];
    return [{ kind: 'rebuild', what: `REINDEX ${kind}` }];
  }
  if ('VacuumStmt' in node) {
    const s = node.VacuumStmt;
    if (!s.is_vacuumcmd || !hasOption(s.options, 'full')) return [{ kind: 'ddl', what: s.is_vacuumcmd ? 'VACUUM' : 'ANALYZE' }];
    const tables = (s.rels ?? []).flatMap((r) =>
      'VacuumRelation' in r && r.VacuumRelation.relation ? [relationName(r.VacuumRelation.relation)] : [],
    );
    return tables.length > 0
      ? tables.map((table) => ({ kind: 'rebuild', table, what: 'VACUUM FULL' }))
      : [{ kind: 'rebuild', what: 'VACUUM FULL' }];
  }
  if ('ClusterStmt' in node) {
    const relation = node.ClusterStmt.relation;
    const table = relation ? relationName(relation) : undefined;
    return [table ? { kind: 'rebuild', table, what: 'CLUSTER' } : { kind: 'rebuild', what: 'CLUSTER' }];
  }
  if ('RefreshMatViewStmt' in node) {
    const s = node.RefreshMatViewStmt;
    return s.concurrent
      ? [{ kind: 'ddl', what: 'REFRESH MATERIALIZED VIEW CONCURRENTLY' }]
      : [{ kind: 'rebuild', table: relationName(s.relation), what: 'REFRESH MATERIALIZED VIEW' }];
  }
  if ('TransactionStmt' in node)
    return [{ kind: 'transaction', verb: String(node.TransactionStmt.kind ?? '').replace(/^TRANS_STMT_/, '') }];
  const key = Object.keys(node)[0] ?? '';
  if (DML.has(key)) return [...setConfigCalls(node), { kind: 'dml' }];
  return [{ kind: 'ddl', what: key.replace(/Stmt$/, '') }];
}

function alterCommand(table: string, cmd: NonNullable<Extract<Node, { AlterTableCmd: unknown }>['AlterTableCmd']>): Fact[] {
  const column = cmd.name ?? '';
  switch (cmd.subtype) {
    case 'AT_AddColumn':
      return cmd.def && 'ColumnDef' in cmd.def ? columnFacts(table, cmd.def.ColumnDef) : [];
    case 'AT_DropColumn':
      return [{ kind: 'dropColumn', table, column }];
    case 'AT_AlterColumnType':
    case 'AT_SetExpression':
      return [{ kind: 'changeType', table, column }];
    case 'AT_SetNotNull':
      return [{ kind: 'setNotNull', table, column }];
    case 'AT_AddConstraint':
      return cmd.def && 'Constraint' in cmd.def ? constraintFacts(table, cmd.def.Constraint) : [];
    case 'AT_ValidateConstraint':
      return [{ kind: 'validateConstraint', table, name: column }];
    case 'AT_SetTableSpace':
      return [{ kind: 'rebuild', table, what: 'SET TABLESPACE' }];
    case 'AT_SetLogged':
      return [{ kind: 'rebuild', table, what: 'SET LOGGED' }];
    case 'AT_SetUnLogged':
      return [{ kind: 'rebuild', table, what: 'SET UNLOGGED' }];
    default:
      return [{ kind: 'alterOther', table, what: String(cmd.subtype ?? '').replace(/^AT_/, '') }];
  }
}

function columnFacts(table: string, def: ColumnDef): Fact[] {
  const constraints = (def.constraints ?? []).flatMap((c) => ('Constraint' in c ? [c.Constraint] : []));
  const type = lastName({ List: { items: def.typeName?.names ?? [] } });
  let perRowValue = SERIAL_TYPES.has(type) ? type : undefined;
  let hasDefault = perRowValue !== undefined;
  let notNull = Boolean(def.is_not_null);
  const facts: Fact[] = [];
  for (const c of constraints) {
    switch (c.contype) {
      case 'CONSTR_NOTNULL':
        notNull = true;
        break;
      case 'CONSTR_DEFAULT':
        if (c.raw_expr && !isNullConstant(c.raw_expr)) hasDefault = true;
        perRowValue ??= perRowCall(c.raw_expr);
        break;
      case 'CONSTR_IDENTITY':
        hasDefault = true;
        perRowValue ??= 'an identity column';
        break;
      case 'CONSTR_GENERATED':
        hasDefault = true;
        if (c.generated_kind !== 'v') perRowValue ??= 'a stored generated column';
        break;
      case 'CONSTR_PRIMARY':
        notNull = true;
        facts.push(...constraintFacts(table, c));
        break;
      default:
        facts.push(...constraintFacts(table, c));
    }
  }
  return [{ kind: 'addColumn', table, column: def.colname ?? '', notNull, hasDefault, perRowValue }, ...facts];
}

const CONSTRAINT_KINDS: Record<string, ConstraintKind> = {
  CONSTR_FOREIGN: 'foreign',
  CONSTR_CHECK: 'check',
  CONSTR_UNIQUE: 'unique',
  CONSTR_PRIMARY: 'primary',
  CONSTR_EXCLUSION: 'exclude',
};

function constraintFacts(table: string, c: Constraint): Fact[] {
  const constraint = CONSTRAINT_KINDS[c.contype ?? ''];
  if (!constraint) return [];
  return [
    {
      kind: 'addConstraint',
      table,
      constraint,
      name: c.conname,
      notValid: Boolean(c.skip_validation),
      usingIndex: Boolean(c.indexname),
      index: c.indexname,
      notNullColumn: constraint === 'check' ? notNullColumn(c.raw_expr) : undefined,
    },
  ];
}

/** The table names of a list of RangeVars. */
function relations(nodes: Node[] | undefined): string[] {
  return (nodes ?? []).flatMap((n) => ('RangeVar' in n ? [relationName(n.RangeVar)] : []));
}

/** A DefElem option given and not turned off (`(CONCURRENTLY)`, `(FULL)`, `(FULL true)`). */
function hasOption(options: Node[] | undefined, name: string): boolean {
  return (options ?? []).some((o) => {
    if (!('DefElem' in o) || o.DefElem.defname !== name) return false;
    const arg = o.DefElem.arg;
    if (!arg) return true;
    const value = 'String' in arg ? arg.String.sval : 'Boolean' in arg ? String(arg.Boolean.boolval ?? false) : constantText(arg);
    return !/^(false|off|0|no)$/i.test(value ?? '');
  });
}

/** `col IS NOT NULL` → col */
function notNullColumn(expr: Node | undefined): string | undefined {
  if (!expr || !('NullTest' in expr) || expr.NullTest.nulltesttype !== 'IS_NOT_NULL') return undefined;
  const arg = expr.NullTest.arg;
  if (!arg || !('ColumnRef' in arg)) return undefined;
  const fields = arg.ColumnRef.fields ?? [];
  const last = fields[fields.length - 1];
  return last && 'String' in last ? last.String.sval : undefined;
}

function isNullConstant(expr: Node): boolean {
  return 'A_Const' in expr && Boolean(expr.A_Const.isnull);
}

/** The first call to a per-row function anywhere in an expression, as `name()`. */
function perRowCall(expr: unknown): string | undefined {
  for (const call of findCalls(expr)) {
    if (PER_ROW_FUNCTIONS.has(call.name)) return `${call.name}()`;
  }
  return undefined;
}

/** set_config('lock_timeout', '0', false) in a query. */
function setConfigCalls(node: Node): Fact[] {
  const facts: Fact[] = [];
  for (const call of findCalls(node)) {
    if (call.name !== 'set_config' || call.args.length < 2) continue;
    const name = constantText(call.args[0]);
    const value = constantText(call.args[1]);
    if (name && value !== undefined)
      facts.push({
        kind: 'setting',
        name: name.toLowerCase(),
        raw: value.toUpperCase(),
        value: settingValue('postgres', value),
        scope: 'session',
      });
  }
  return facts;
}

function* findCalls(value: unknown): Generator<{ name: string; args: Node[] }> {
  if (Array.isArray(value)) {
    for (const v of value) yield* findCalls(v);
  } else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if ('FuncCall' in record) {
      const call = (record as Extract<Node, { FuncCall: unknown }>).FuncCall;
      const name = lastName({ List: { items: call.funcname ?? [] } });
      yield { name, args: call.args ?? [] };
    }
    for (const v of Object.values(record)) yield* findCalls(v);
  }
}

/** A constant's text: '5s' → 5s, 1000 → 1000, 0 → 0. */
function constantText(node: Node): string | undefined {
  if (!('A_Const' in node)) return undefined;
  const c = node.A_Const;
  if (c.sval) return c.sval.sval ?? '';
  if (c.ival) return String(c.ival.ival ?? 0);
  if (c.fval) return c.fval.fval;
  return c.isnull ? undefined : '0';
}

/** A table's name as written: `schema.table` when qualified (folded as the server folds it). */
function relationName(relation: RangeVar | undefined): string {
  if (!relation) return '';
  return [relation.catalogname, relation.schemaname, relation.relname ?? ''].filter((p) => p).join('.');
}

/** A List's Strings (a qualified name) joined by dots. */
function qualifiedName(node: Node): string {
  const items = 'List' in node ? (node.List.items ?? []) : [node];
  return items.map((i) => ('String' in i ? (i.String.sval ?? '') : '')).join('.');
}

/** The last String of a List (a qualified name), lower-cased as the server already folded it. */
function lastName(node: Node): string {
  const items = 'List' in node ? (node.List.items ?? []) : [node];
  const last = items[items.length - 1];
  return last && 'String' in last ? (last.String.sval ?? '') : '';
}
