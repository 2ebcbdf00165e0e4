import { promises as fs } from 'node:fs';
import { captureCustomStatements, thrownMessage, type RecordedStatement } from '../engine/custom';
import { withLiterals } from './bindings';
import type { LoadedMigration } from '../migration/loader';
import type { Operation } from '../operations/operation';
import { createAnalyzer, type Analyzer, type ParsedStatement } from './analyze';
import { needsNoTransaction } from '../dialects/postgres/no-transaction';
import { withoutForeignKeyChecks } from './token-facts';
import { SourceLocator } from './locate';
import { perRowValues } from './per-row';
import { SERIAL_TYPES } from './values';
import { RULES, type LintRule, type OperationFacts, type RuleContext } from './rules';
import { factTable, LINT_PHASES, type AnalyzedStatement, type Fact, type LintEngine, type LintPhase } from './statement';

export { RULES, RULES_BY_ID, type LintRule } from './rules';
export type { LintEngine, LintPhase } from './statement';

/** One unsafe statement (or misused operation) in a SQL text. */
export interface SqlFinding {
  phase: LintPhase;
  /** The rule's id, which also silences it: `-- zmigrate-lint-ignore <rule>`. */
  rule: string;
  message: string;
  /** The statement without its leading comments, or the operation for operation rules. */
  statement: string;
}

/** One finding in a migration file. */
export interface LintFinding extends SqlFinding {
  migration: string;
  file: string;
  /** Where the statement (or the operation) is in the file, when it can be found. */
  line?: number;
}

/**
 * A migration's TypeScript phase that lint could not run: it needs what a
 * recording knex cannot give (rows, a real connection). Not a finding: the
 * migration may well be safe; lint just did not see what it sends.
 */
export interface LintNote {
  migration: string;
  file: string;
  phase: LintPhase;
  line?: number;
  message: string;
}

export interface LintReport {
  findings: LintFinding[];
  notes: LintNote[];
}

export interface LintOptions {
  engine: LintEngine;
  /** The lock timeout zmigrate runs with, in ms (default 500, as the CLI's --lock-timeout). */
  lockTimeoutMs?: number;
  /** 'tokens' skips the SQL parsers and uses the fallback tokenizer alone (for tests). */
  parser?: 'auto' | 'tokens';
}

const DEFAULT_LOCK_TIMEOUT_MS = 500;

/**
 * Lints migrations without a database: the raw SQL of op.sql in each phase,
 * and how operations are used. Built-in operations generate SQL that needs
 * the database's schema to plan; `zmigrate plan` shows it, and the test
 * suite lints it (it must come out clean).
 */
export async function lint(migrations: readonly LoadedMigration[], options: LintOptions): Promise<LintFinding[]> {
  return (await lintReport(migrations, options)).findings;
}

/** As lint(), with a note for each TypeScript phase that could not be linted. */
export async function lintReport(migrations: readonly LoadedMigration[], options: LintOptions): Promise<LintReport> {
  const linter = new Linter(await createAnalyzer(options.engine, options), options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  const findings: LintFinding[] = [];
  const notes: LintNote[] = [];
  for (const migration of migrations) {
    const locator = new SourceLocator(await fs.readFile(migration.file, 'utf8').catch(() => ''));
    const operations = migration.migration.operations;
    const located: LintFinding[] = [];
    const report = (statements: StatementFindings[], lineOf: (code: string | undefined) => number | undefined) => {
      for (const { code, findings: found } of statements) {
        const line = lineOf(code);
        for (const f of found) located.push({ ...f, migration: migration.name, file: migration.file, line });
      }
    };
    const operation = (index: number, phase: LintPhase) => {
      const { at, from, to } = locator.operation(operations, index);
      report(linter.operation(operations[index], phase), locator.statements(locator.phase(phase, from, to), to, at));
    };
    const createdTables = operations.filter((o) => o.kind === 'createTable').map((o) => tableOf(o));
    // Custom phases run on a knex that executes nothing; what they would send is linted like raw SQL.
    const custom = async (phase: 'expand' | 'contract' | 'rollback') => {
      const fn = migration.migration[phase];
      if (!fn) return;
      const flavour = options.engine === 'postgres' ? 'postgres' : 'mysql';
      const at = locator.customPhase(phase);
      let statements: RecordedStatement[];
      try {
        statements = await captureCustomStatements(flavour, phase, fn, { name: migration.name, versionSchema: `<base>_${migration.name}` });
      } catch (error) {
        const why = thrownMessage(error);
        notes.push({
          migration: migration.name,
          file: migration.file,
          phase,
          line: locator.line(at),
          message: `the TypeScript ${phase} phase was not linted: it failed on lint's recording knex, which runs nothing and returns no rows (${why})`,
        });
        return;
      }
      const lineOf = locator.statements(at ?? 0, Infinity, at);
      // Bound values written in, so the rules see them; a knex.transaction's statements as one transaction.
      for (const group of transactionGroups(statements))
        report(
          linter.transaction(
            group.map((s) => withLiterals(options.engine, s)),
            phase,
          ),
          lineOf,
        );
    };
    linter.startPhase('expand', createdTables);
    operations.forEach((_, i) => operation(i, 'expand'));
    await custom('expand');
    const afterExpand = linter.snapshot();
    linter.startPhase('contract');
    await custom('contract');
    operations.forEach((_, i) => operation(i, 'contract'));
    const afterContract = linter.snapshot();
    // Rollback undoes expand instead of contract: it starts from the state expand left.
    linter.restore(afterExpand);
    linter.startPhase('rollback');
    await custom('rollback');
    for (let i = operations.length - 1; i >= 0; i--) operation(i, 'rollback');
    linter.restore(afterContract);
    findings.push(...located.sort((a, b) => LINT_PHASES.indexOf(a.phase) - LINT_PHASES.indexOf(b.phase) || (a.line ?? 0) - (b.line ?? 0)));
  }
  return { findings, notes };
}

/**
 * Lints SQL statements in order, each in its phase, as one migration would
 * run them (a table created earlier in the same phase is new; a CHECK
 * validated earlier lets SET NOT NULL skip its scan).
 */
export async function lintStatements(
  statements: ReadonlyArray<{ phase: LintPhase; sql: string }>,
  options: LintOptions,
): Promise<SqlFinding[]> {
  const linter = new Linter(await createAnalyzer(options.engine, options), options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  const findings: SqlFinding[] = [];
  let phase: LintPhase | undefined;
  for (const s of statements) {
    if (s.phase !== phase) linter.startPhase(s.phase);
    phase = s.phase;
    findings.push(...linter.sql(s.sql, s.phase));
  }
  return findings;
}

export function lintSql(sql: string, options: LintOptions & { phase: LintPhase }): Promise<SqlFinding[]> {
  return lintStatements([{ phase: options.phase, sql }], options);
}

/** A statement's findings, with its code to find it in the file by; an operation's own findings have none. */
interface StatementFindings {
  code?: string;
  findings: SqlFinding[];
}

interface NotNullCheck {
  table: string;
  column: string;
  name?: string;
  validated: boolean;
}

interface LintState {
  /** Tables created earlier in the current phase: no app uses them yet. */
  newTables: Set<string>;
  checks: NotNullCheck[];
  /** PostgreSQL: indexes built earlier, by name, with their key columns, for ADD PRIMARY KEY USING INDEX. */
  indexes: Map<string, { table: string; columns: string[] }>;
  /** Columns made NOT NULL earlier (ADD COLUMN … NOT NULL, SET NOT NULL). */
  notNull: Array<{ table: string; column: string }>;
  /** MySQL: SET foreign_key_checks = 0 on the session, so foreign keys are added in place. */
  foreignKeyChecksOff: boolean;
}

/** Runs the rules over statements in the order they would run, keeping what earlier ones did. */
class Linter {
  #state: LintState = { newTables: new Set(), checks: [], indexes: new Map(), notNull: [], foreignKeyChecksOff: false };
  /** `table.name` of constraints added NOT VALID earlier in the transaction the next statement runs in. */
  #notValidInTransaction = new Set<string>();

  constructor(
    private readonly analyzer: Analyzer,
    private readonly lockTimeoutMs: number,
  ) {}

  startPhase(_phase: LintPhase, createdTables: string[] = []): void {
    this.#state.newTables = new Set(createdTables.map((t) => this.fold(t)));
    // Each phase of each migration may run in a later run, on a new session: a session setting does not carry over.
    this.#state.foreignKeyChecksOff = false;
  }

  snapshot(): LintState {
    return copyState(this.#state);
  }

  restore(state: LintState): void {
    this.#state = copyState(state);
  }

  /**
   * One op.sql phase string, or one statement a custom phase sends: raw SQL
   * runs its statements in one transaction, but for those that cannot run in
   * one (raw-sql.ts), each alone between transactions.
   */
  sql(sql: string, phase: LintPhase): SqlFinding[] {
    return this.sqlByStatement(sql, phase).flatMap((statement) => statement.findings);
  }

  /** As sql(), with an entry for each statement, flagged or not, in order. */
  sqlByStatement(sql: string, phase: LintPhase): StatementFindings[] {
    return this.transaction([sql], phase);
  }

  /** SQL texts run in one transaction (but for statements that cannot run in one), as sqlByStatement() reads one. */
  transaction(texts: readonly string[], phase: LintPhase): StatementFindings[] {
    const found: StatementFindings[] = [];
    this.#notValidInTransaction.clear();
    for (const parsed of texts.flatMap((sql) => this.analyzer.statements(sql))) {
      const statement = { ...parsed, facts: this.withImplied(parsed.facts) };
      const alone = this.analyzer.engine === 'postgres' && needsNoTransaction(statement.sql);
      if (alone) this.#notValidInTransaction.clear();
      found.push({ code: statement.code, findings: this.statement(statement, phase) });
      this.apply(statement.facts);
      if (alone) this.#notValidInTransaction.clear();
    }
    return found;
  }

  /** Findings on an operation's statements, and on the operation itself (no code). */
  operation(operation: Operation, phase: LintPhase): StatementFindings[] {
    if (operation.kind === 'sql') return this.rawSql(operation, phase);
    if (operation.kind === 'addColumn' && phase === 'expand') return [{ findings: this.addColumn(operation) }];
    return [];
  }

  private rawSql(operation: Operation, phase: LintPhase): StatementFindings[] {
    const spec = (operation as Operation & { spec?: Partial<Record<LintPhase, unknown>> }).spec ?? {};
    const text = typeof spec[phase] === 'string' ? (spec[phase] as string) : undefined;
    const statements = text === undefined ? [] : this.sqlByStatement(text, phase);
    if (phase !== 'expand') return statements;
    const findings: SqlFinding[] = [];
    // Operation rules look at every phase's SQL; they are silenced by a directive anywhere in expand's SQL.
    const sql: Partial<Record<LintPhase, AnalyzedStatement[]>> = {};
    for (const p of LINT_PHASES) if (typeof spec[p] === 'string') sql[p] = this.analyzer.statements(spec[p] as string);
    const facts: OperationFacts = { kind: operation.kind, sql };
    const silenced = this.analyzer.directives(text ?? '');
    for (const rule of this.rules(phase, 'operation')) {
      const detail = rule.checkOperation?.(facts);
      if (detail !== undefined && !silenced.has(rule.id)) findings.push({ phase, rule: rule.id, message: rule.message, statement: detail });
    }
    return [...statements, { findings }];
  }

  /**
   * op.addColumn fills a default computed per row in batches, and a serial
   * type on PostgreSQL too; another type that gives each row a value of its
   * own (an identity, a stored generated column, AUTO_INCREMENT) would be
   * added as written: expand refuses it.
   */
  private addColumn(operation: Operation): SqlFinding[] {
    const { table, column, spec } = operation as Operation & {
      table?: unknown;
      column?: unknown;
      spec?: { type?: unknown };
    };
    if (typeof table !== 'string' || typeof column !== 'string' || typeof spec?.type !== 'string') return [];
    const perRow = perRowValues(this.analyzer.engine, spec.type, undefined).type;
    // PostgreSQL's serial types are added as an integer column with a sequence of its own, filled in batches.
    if (perRow === undefined || (this.analyzer.engine === 'postgres' && SERIAL_TYPES.has(perRow))) return [];
    if (this.#state.newTables.has(this.fold(table))) return [];
    const quote = (name: string) =>
      this.analyzer.engine === 'mysql' ? `\`${name.replace(/`/g, '``')}\`` : `"${name.replace(/"/g, '""')}"`;
    const [statement] = this.analyzer.statements(`ALTER TABLE ${quote(table)} ADD COLUMN ${quote(column)} ${spec.type}`);
    const call = `op.addColumn(${JSON.stringify(table)}, ${JSON.stringify(column)}, { type: ${JSON.stringify(spec.type)} })`;
    return (statement ? this.statement(statement, 'expand') : [])
      .filter((f) => f.rule === 'add-column-volatile-default')
      .map((f) => ({ ...f, statement: call }));
  }

  private statement(statement: ParsedStatement, phase: LintPhase): SqlFinding[] {
    const ctx: RuleContext = {
      engine: this.analyzer.engine,
      phase,
      lockTimeoutMs: this.lockTimeoutMs,
      hasValidatedNotNullCheck: (table, column) =>
        this.#state.checks.some((c) => c.validated && sameTable(c.table, table) && c.column === column),
      addedNotValidInTransaction: (table, name) => this.#notValidInTransaction.has(`${table}.${name}`),
    };
    const facts =
      this.#state.foreignKeyChecksOff && this.analyzer.engine === 'mysql' ? withoutForeignKeyChecks(statement.facts) : statement.facts;
    // RENAME TABLE t TO a, b TO t swaps b in for t at once: the name the apps use stays.
    const swappedIn = (table: string) => facts.some((g) => g.kind === 'renameTable' && g.to === table);
    // Table rules skip what concerns tables created earlier in this phase.
    const onOldTables: AnalyzedStatement = {
      ...statement,
      facts: facts.filter((f) => !this.isNew(factTable(f)) && !(f.kind === 'renameTable' && swappedIn(f.table))),
      alter: statement.alter && !this.isNew(statement.alter.table) ? statement.alter : undefined,
    };
    const findings: SqlFinding[] = [];
    for (const rule of [...this.rules(phase, 'table'), ...this.rules(phase, 'session')]) {
      if (statement.ignored.has(rule.id)) continue;
      const detail = rule.check?.(rule.scope === 'table' ? onOldTables : statement, ctx);
      if (detail !== undefined)
        findings.push({ phase, rule: rule.id, message: detail ? `${rule.message} (${detail})` : rule.message, statement: statement.code });
    }
    return findings;
  }

  private rules(phase: LintPhase, scope: LintRule['scope']): LintRule[] {
    return RULES.filter((r) => r.scope === scope && r.phases.includes(phase) && r.engines.includes(this.analyzer.engine));
  }

  private isNew(table: string | undefined): boolean {
    return table !== undefined && this.#state.newTables.has(table);
  }

  private fold(name: string): string {
    return this.analyzer.engine === 'mysql' ? name.toLowerCase() : name;
  }

  /**
   * The facts of a statement, with what it does besides: ADD PRIMARY KEY
   * USING INDEX runs SET NOT NULL on each of the index's columns that may
   * hold NULLs (known when lint saw the index built).
   */
  private withImplied(facts: Fact[]): Fact[] {
    return facts.flatMap((f) => {
      if (f.kind !== 'addConstraint' || f.constraint !== 'primary' || !f.index) return [f];
      const index = this.#state.indexes.get(f.index);
      if (!index || !sameTable(index.table, f.table)) return [f];
      const nullable = index.columns.filter(
        (column) => !this.#state.notNull.some((n) => sameTable(n.table, f.table) && n.column === column),
      );
      return [
        f,
        ...nullable.map((column): Fact => ({ kind: 'setNotNull', table: f.table, column, via: `PRIMARY KEY USING INDEX ${f.index}` })),
      ];
    });
  }

  /** What a statement leaves behind that later statements' rules depend on. */
  private apply(facts: readonly Fact[]): void {
    const state = this.#state;
    for (const f of facts) {
      switch (f.kind) {
        case 'createTable':
          // IF NOT EXISTS may find the table there, in use.
          if (!f.ifNotExists) state.newTables.add(f.table);
          break;
        case 'renameTable':
          if (state.newTables.delete(f.table)) state.newTables.add(f.to);
          for (const named of [...state.checks, ...state.indexes.values(), ...state.notNull])
            if (sameTable(named.table, f.table)) named.table = f.to;
          break;
        case 'dropTable':
          state.checks = state.checks.filter((c) => !sameTable(c.table, f.table));
          for (const [name, i] of state.indexes) if (sameTable(i.table, f.table)) state.indexes.delete(name);
          state.notNull = state.notNull.filter((n) => !sameTable(n.table, f.table));
          break;
        case 'createIndex':
          if (f.name && f.columns) state.indexes.set(f.name, { table: f.table, columns: [...f.columns] });
          break;
        case 'addColumn':
          if (f.notNull) state.notNull.push({ table: f.table, column: f.column });
          break;
        case 'setNotNull':
          state.notNull.push({ table: f.table, column: f.column });
          break;
        case 'addConstraint': {
          if (f.notValid && f.name) this.#notValidInTransaction.add(`${f.table}.${f.name}`);
          if (f.notNullColumn) state.checks.push({ table: f.table, column: f.notNullColumn, name: f.name, validated: !f.notValid });
          // PostgreSQL renames the index it attaches to the constraint's name.
          const index = f.index === undefined ? undefined : state.indexes.get(f.index);
          if (index && f.index && f.name) {
            state.indexes.delete(f.index);
            state.indexes.set(f.name, index);
          }
          break;
        }
        case 'validateConstraint':
          for (const c of state.checks) if (sameTable(c.table, f.table) && c.name === f.name) c.validated = true;
          break;
        case 'renameColumn':
          for (const c of [...state.checks, ...state.notNull]) if (sameTable(c.table, f.table) && c.column === f.from) c.column = f.to;
          for (const i of state.indexes.values())
            if (sameTable(i.table, f.table)) i.columns = i.columns.map((c) => (c === f.from ? f.to : c));
          break;
        case 'dropColumn':
          state.checks = state.checks.filter((c) => !(sameTable(c.table, f.table) && c.column === f.column));
          state.notNull = state.notNull.filter((n) => !(sameTable(n.table, f.table) && n.column === f.column));
          break;
        case 'setting':
          if (f.name === 'foreign_key_checks' && f.scope === 'session') state.foreignKeyChecksOff = f.raw === '0' || f.raw === 'OFF';
          break;
        default:
          break;
      }
    }
  }
}

/** Statements in the order sent, those of one knex.transaction together, each other statement alone (it autocommits). */
function transactionGroups(statements: readonly RecordedStatement[]): RecordedStatement[][] {
  const groups: RecordedStatement[][] = [];
  for (const s of statements) {
    const last = groups[groups.length - 1];
    if (s.transaction !== undefined && last?.[0].transaction === s.transaction) last.push(s);
    else groups.push([s]);
  }
  return groups;
}

function copyState(state: LintState): LintState {
  return {
    ...state,
    newTables: new Set(state.newTables),
    checks: state.checks.map((c) => ({ ...c })),
    indexes: new Map([...state.indexes].map(([name, i]) => [name, { table: i.table, columns: [...i.columns] }])),
    notNull: state.notNull.map((n) => ({ ...n })),
  };
}

/**
 * The same table for what a constraint or a column proves: the names are
 * equal, or one is not qualified and the last parts are (`orders`,
 * `public.orders`). Whether a table is new is judged strictly instead: a
 * table created as `archive.orders` says nothing of `public.orders`.
 */
function sameTable(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.includes('.') && b.includes('.')) return false;
  return a.slice(a.lastIndexOf('.') + 1) === b.slice(b.lastIndexOf('.') + 1);
}

function tableOf(operation: Operation): string {
  const table = (operation as Operation & { table?: unknown }).table;
  return typeof table === 'string' ? table : '';
}
