/**
 * Dual-write rules: how the BEFORE row triggers of a migration keep the old
 * and the new shape of a table in sync while both app versions write.
 *
 * Which app wrote a row is told by which columns the write set or changed, not
 * by the session: the old app cannot see the new columns and the new app
 * cannot see the old ones, so "the new column changed" means the new app
 * wrote, and "an old column changed while the new one did not" means the old
 * app wrote. This works for a client that only sets search_path (PostgreSQL)
 * or its default database (MySQL, where a trigger cannot see the session's
 * database at all), and needs no exact match on search_path.
 */
import { createHash } from 'node:crypto';
import type { ViewTable } from './schema-model';
import type { WalkKey } from './walk-key';

/** A condition on the row being written, checked before any rule assigns anything. */
export type Condition =
  | { isNull: string }
  | { notNull: string }
  /** UPDATE only: one of these columns differs from the old row. */
  | { changed: string[] }
  | { unchanged: string }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  /**
   * The session says it is an app of this version or a later one: on
   * PostgreSQL its search_path holds such a version schema; on MySQL/MariaDB
   * it set @zmigrate_version (the version helpers do). False when unknown.
   */
  | { newApp: true }
  /** SQL over the new row, as `row` names it, is true. */
  | { holds: string; row: RowNames };

/** Columns of the row as one version names them: `name` in the expression, `source` in the table. */
export type RowNames = Array<{ name: string; source: string }>;

export interface DualWriteRule {
  /** The physical column the rule sets. */
  target: string;
  /** SQL over the row as `row` names it (the old version's names for `up`, the new one's for `down`). */
  expression: string;
  row: RowNames;
  /** When to set it on INSERT; never if absent. */
  onInsert?: Condition;
  /** When to set it on UPDATE; never if absent. */
  onUpdate?: Condition;
}

/**
 * A table's rules, given per operation, in the order its trigger applies
 * them: each operation's after the other operations' rules that set a column
 * it reads, otherwise in the operations' order; an operation's own rules
 * keep theirs (an `alterColumn`'s `down` and `up` read each other's column,
 * and never both apply to one write). A new app's insert that leaves an old
 * column to an `alterColumn`'s `down` has it set before another operation's
 * `up` reads it (`amount_cents` from `amount`), and one that leaves a new
 * column to an `addColumn`'s `up` has it filled before a `dropColumn`'s
 * `down` reads it, wherever the migration lists the two. Operations that
 * read each other's columns keep their order.
 */
export function orderRules(operations: ReadonlyArray<readonly DualWriteRule[]>): DualWriteRule[] {
  const remaining = [...operations];
  const ordered: DualWriteRule[] = [];
  const waitsFor = (rules: readonly DualWriteRule[], other: readonly DualWriteRule[]) =>
    other !== rules && rules.some((rule) => other.some((o) => readsColumn(rule, o.target)));
  while (remaining.length > 0) {
    const ready = remaining.findIndex((rules) => !remaining.some((other) => waitsFor(rules, other)));
    ordered.push(...remaining.splice(Math.max(ready, 0), 1)[0]);
  }
  return ordered;
}

/** Whether a rule's expression names the physical column `column`, by the name its row gives it. */
function readsColumn(rule: DualWriteRule, column: string): boolean {
  return rule.row.some((c) => c.source === column && namesIdentifier(rule.expression, c.name));
}

/** Whether SQL names an identifier, bare (any case) or quoted; a mention in a string literal counts too, on the safe side. */
export function namesIdentifier(sql: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w$])${escaped}($|[^\\w$])`, 'i').test(sql);
}

/** Fills a column for the rows that existed before the triggers, in keyset batches. */
export interface BackfillSpec {
  table: string;
  /** What batches walk: the key columns in order, or the row address (chooseWalkKey). */
  key: WalkKey;
  /** Physical column → SQL over the physical row. */
  set: Record<string, string>;
  /** Only rows that still need it (e.g. `"_zm_amount" IS NULL`), so the apps' writes are not redone. */
  where: string;
  /**
   * Copy the rows into this shadow table instead of updating them in place
   * (see TableRebuild). `lockFirst`: each chunk's rows are locked by a
   * statement of their own before the copy (TableRebuild.lockBeforeCopy);
   * absent, they are. `checks`: the shadow's checks (DualWrite.shadow), whose
   * scans name the rows behind a check the copy breaks (one written after
   * the scan that ran before the rebuild, before the mirror was there).
   */
  copy?: { into: string; columns: string[]; lockFirst?: boolean; checks?: VerifySpec[] };
  /**
   * A catch-up after a copy: walks the keys in `log` (those the mirror wrote)
   * instead of the table, and counts the rows it filled, not the rows it
   * walked (the copy counted those).
   */
  catchUp?: { log: string };
  /**
   * The rows an app's UPDATE may have left wrong if no UPDATE trigger ran
   * (the verification's mismatch). Given, the backfill may run under a
   * trigger for inserts only, then this pass (see the runner's dualWriteSteps).
   */
  stale?: string;
  /** This walk is that pass: few of the rows it walks need filling, so it counts those it fills. */
  redo?: true;
  /**
   * The filled column is one the apps already write (setNotNull fills only
   * its NULLs), not one the migration adds: never by copy, which computes the
   * filled columns for every row and leaves them out of what the mirror
   * carries over (see the runner's rebuilds).
   */
  keepsValues?: true;
}

/** A check that the backfill and the triggers did their job: `mismatch` is true for a row that is wrong. */
export interface VerifySpec {
  table: string;
  /** What chunks walk, as for the backfill. */
  key: WalkKey;
  /** For messages: `orders._zm_amount = up(amount)`. */
  what: string;
  mismatch: string;
}

export function rowOf(view: ViewTable | undefined): RowNames {
  return (view?.columns ?? []).map((c) => ({ name: c.name, source: c.source }));
}

/** Name of a migration's trigger on a table; all of a migration's triggers share triggerPrefix(). */
export function triggerName(migration: string, table: string): string {
  return `${triggerPrefix(migration)}_${hash(table).slice(0, 8)}`;
}

/**
 * The tables of a rebuild by copy: the shadow being filled, the old table
 * once swapped out, and the log of the keys the apps wrote meanwhile.
 */
export interface RebuildTables {
  shadow: string;
  retired: string;
  log: string;
}

const REBUILD_SUFFIXES: Readonly<RebuildTables> = { shadow: '_new', retired: '_old', log: '_log' };

/** The names rebuildTables() gives: zmigrate's own tables, never part of an app's schema. */
export const REBUILD_TABLE = new RegExp(`^_zm_[0-9a-f]{12}_[0-9a-f]{8}(${Object.values(REBUILD_SUFFIXES).join('|')})$`);

export function rebuildTables(migration: string, table: string): RebuildTables {
  const base = triggerName(migration, table);
  return { shadow: base + REBUILD_SUFFIXES.shadow, retired: base + REBUILD_SUFFIXES.retired, log: base + REBUILD_SUFFIXES.log };
}

export function triggerPrefix(migration: string): string {
  return `_zm_${hash(migration).slice(0, 12)}`;
}

/** A helper column's name: `_zm_<column>`, shortened with a hash when too long for either engine. */
export function helperColumn(column: string): string {
  const name = `_zm_${column}`;
  if (Buffer.byteLength(name) <= 63) return name;
  return `_zm_${hash(column).slice(0, 16)}`;
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The few spellings that differ between engines when rendering rules. */
export interface RuleSyntax {
  quote(identifier: string): string;
  /** True when a and b differ, NULLs included. */
  distinct(a: string, b: string): string;
  /** True when the session is an app of this migration's version or a later one. */
  newApp: string;
}

export function renderCondition(condition: Condition, syntax: RuleSyntax): string {
  const col = (c: string) => `NEW.${syntax.quote(c)}`;
  if ('isNull' in condition) return `${col(condition.isNull)} IS NULL`;
  if ('notNull' in condition) return `${col(condition.notNull)} IS NOT NULL`;
  if ('unchanged' in condition) return `NOT (${syntax.distinct(col(condition.unchanged), `OLD.${syntax.quote(condition.unchanged)}`)})`;
  if ('changed' in condition) {
    if (condition.changed.length === 0) return 'FALSE';
    return `(${condition.changed.map((c) => syntax.distinct(col(c), `OLD.${syntax.quote(c)}`)).join(' OR ')})`;
  }
  if ('newApp' in condition) return syntax.newApp;
  if ('holds' in condition) return overRow(condition.holds, condition.row, syntax);
  if ('not' in condition) return `NOT (${renderCondition(condition.not, syntax)})`;
  if ('any' in condition) return `(${condition.any.map((c) => renderCondition(c, syntax)).join(' OR ')})`;
  return `(${condition.all.map((c) => renderCondition(c, syntax)).join(' AND ')})`;
}

/** The rule's expression evaluated over the new row, seen with the names of the rule's version. */
export function renderValue(rule: DualWriteRule, syntax: RuleSyntax): string {
  return overRow(rule.expression, rule.row, syntax);
}

/** SQL evaluated over the new row, its columns under the names `row` gives them. */
function overRow(sql: string, row: RowNames, syntax: RuleSyntax): string {
  const projection = row.map((c) => `NEW.${syntax.quote(c.source)} AS ${syntax.quote(c.name)}`).join(', ');
  return `(SELECT (${sql}) FROM (SELECT ${projection}) AS _zm_row)`;
}
