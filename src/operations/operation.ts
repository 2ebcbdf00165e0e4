import type { Dialect } from '../dialects/dialect';
import type { ColumnHolder, QualifiedName, SchemaModel, TableModel, VersionView } from '../engine/schema-model';
import type { BackfillSpec, DualWriteRule, RowNames, VerifySpec } from '../engine/dual-write';
import type { Step } from '../engine/step';
import { createHash } from 'node:crypto';
import { ValidationError } from '../errors';
import { chooseWalkKey, missingWalkKey, type WalkKey } from '../engine/walk-key';
import { tokenize } from '../lint/tokens';

/** What an operation sees while it is planned. Nothing here touches the database. */
export interface PlanContext {
  readonly dialect: Dialect;
  readonly migration: string;
  /**
   * The physical schema as it will be when this operation's phase starts.
   * Planning an operation updates it to the shape the phase leaves behind.
   */
  readonly model: SchemaModel;
  /** The schema as the previous application version sees it (names it may refer to). */
  readonly view: VersionView;
  /** What the server said of the defaults of columns added (see ProbedDefaults). */
  readonly probedDefaults?: ProbedDefaults;
  /**
   * Where given, validation adds here each default a column keeps on a type
   * it did not have: the runner then asks the server whether the type takes
   * it (Dialect.refusesDefault), before anything changes.
   */
  readonly keptDefaults?: KeptDefault[];
}

/** A column's default that an operation keeps on a new type; `what` names the operation, for the refusal. */
export interface KeptDefault {
  what: string;
  column: string;
  type: string;
  default: string;
}

/**
 * Whether the server would compute each default for every row (true) or
 * store it once (false), by `probedKey(type, default)` (Dialect.probeDefault),
 * asked before planning for the columns that pending migrations add; and by
 * `probedKey(type)`, whether adding a column of that type alone rewrites
 * the table.
 */
export type ProbedDefaults = ReadonlyMap<string, boolean>;

export function probedKey(type: string, expression?: string): string {
  return expression === undefined ? type : `${type}\u0000${expression}`;
}

/**
 * Refuses a column whose type makes PostgreSQL rewrite the table to add it,
 * under an ACCESS EXCLUSIVE lock (a domain with constraints: each row's
 * value is checked), as the server said when asked (Dialect.probeDefault).
 */
export function refuseRewritingType(ctx: PlanContext, what: string, type: string): void {
  if (ctx.probedDefaults?.get(probedKey(type)) !== true) return;
  throw new ValidationError(
    ctx.migration,
    `${what}: the server rewrites the whole table, blocking reads and writes, to add a column of type ${type} (as for a domain with constraints, checked on every row)`,
    { hint: "for a domain, use its base type, with the domain's condition as a check (op.addCheck)" },
  );
}

/** What an operation needs from the triggers and the backfill, on one physical table. */
export interface DualWrite {
  table: string;
  rules: DualWriteRule[];
  backfill: BackfillSpec[];
  /** Checks run after the backfill: each names rows where the new shape is wrong. */
  verify?: VerifySpec[];
  /** Steps that must wait until the backfill is done (NOT VALID checks that new writes must already meet). */
  afterBackfill?: Step[];
  /**
   * Once expanded (DualWriteContext.live): the columns (`people.middle_name`)
   * whose NULLs a rerun of the backfill leaves as they are, since the new app
   * may have written them.
   */
  notRefilled?: string[];
  /**
   * What the table's shadow gets while it is empty, where the engine can only
   * build this way what the operation adds (a CHECK on MariaDB): the table is
   * then rebuilt by copy (TableRebuild) even with nothing to fill, `verify`
   * runs before the rebuild starts, and expand is refused where the table
   * cannot be rebuilt so.
   */
  shadow?: { what: string; steps: (shadow: string) => Step[] };
}

/** The two versions around a migration, to express dual-write rules in each one's names. */
export interface DualWriteContext {
  readonly dialect: Dialect;
  readonly model: SchemaModel;
  readonly previous: VersionView;
  readonly next: VersionView;
  readonly probedDefaults?: ProbedDefaults;
  /**
   * The migration is expanded (a rerun of `zmigrate backfill`): the new app
   * may be writing the new shape, and what it wrote is its own.
   */
  readonly live?: boolean;
  /**
   * Whether `expression`, over `row` of `table`, may give another value when
   * computed again for the same row, as the server said (Dialect.mutable):
   * true for now(), current_date, a stable or volatile function; undefined
   * where it was not asked yet or could not tell. The runner asks the server
   * about what operations look up here, then plans them again with its answers.
   */
  readonly mutable?: (table: string, row: RowNames, expression: string, type: string) => boolean | undefined;
}

/**
 * One schema change with its three phases, as pgroll's operations have.
 * Adding an operation means adding a file that implements this; nothing else
 * in the engine changes.
 */
export interface Operation {
  readonly kind: string;
  /**
   * True when the planner cannot know the schema this operation leaves
   * (raw SQL): operations after it are planned from a fresh look at the database.
   */
  readonly opaque?: boolean;
  /** One line for humans: `add column orders.priority`. */
  describe(): string;
  /** Checks the operation against the previous version; throws ValidationError. */
  validate(ctx: PlanContext): void;
  /** Steps that add the new shape beside the old one; updates ctx.model. */
  expand(ctx: PlanContext): Step[];
  /**
   * Contract's look at the schema as it finds it, before anything changes:
   * what came since expand and would stop the contract half-way (an object
   * made by hand that holds on to a column it drops). Throws ValidationError.
   */
  checkContract?(ctx: PlanContext): void;
  /** Steps that remove the old shape and finalize the new one; updates ctx.model. */
  contract(ctx: PlanContext): Step[];
  /** Steps that undo expand; updates ctx.model. */
  rollback(ctx: PlanContext): Step[];
  /**
   * Turns the previous version's view into this version's view. It must give
   * the right view both before and after the operation's contract (checked
   * against the physical model), since views are refreshed during contract.
   */
  shapeView(view: VersionView, model: SchemaModel): void;
  /** Triggers and backfill that keep both versions in sync while the migration is live. */
  dualWrite?(ctx: DualWriteContext): DualWrite | undefined;
  /** Tables this operation reshapes; no other live migration may reshape them at the same time. */
  reshapes?(ctx: Pick<PlanContext, 'dialect' | 'probedDefaults'>): string[];
  /**
   * SQL of its own that names a table's columns as they are physically (a
   * check's expression, an index's WHERE): a live migration that drops one
   * of those columns at its contract (columnsDroppedAtContract) would drop
   * that SQL's constraint or index with it.
   */
  namesColumnsOf?(): Array<{ table: string; sql: string }>;
  /** The physical columns its contract drops: an altered column's old one, a dropped column. */
  columnsDroppedAtContract?(): Array<{ table: string; column: string }>;
  /** Column types and defaults (or types alone) to ask the server about before planning (Dialect.probeDefault). */
  defaultsToProbe?(): Array<{ type: string; default?: string }>;
}

/**
 * Refuses to make a nullable TIMESTAMP column NOT NULL where the server
 * cannot without blocking writes (capabilities.notNullTimestampOnline):
 * contract would stop there, after the backfill, unable to go on.
 */
export function refuseNotNullTimestamp(ctx: PlanContext, what: string, type: string): void {
  if (ctx.dialect.capabilities.notNullTimestampOnline || !/^\s*timestamp\b/i.test(type)) return;
  throw new ValidationError(
    ctx.migration,
    `${what}: ${ctx.dialect.displayName} cannot make a nullable TIMESTAMP column NOT NULL without blocking writes (it copies the table under LOCK=SHARED), which contract would have to`,
    { hint: 'use datetime, which it makes NOT NULL online, or keep the column nullable' },
  );
}

/**
 * Refuses a constraint name that is taken: the server would refuse the
 * constraint mid-expand, or a step run again (its guard: the constraint
 * exists) would take the one there for the one it adds, and rollback drop
 * it. Taken by a check, foreign key or primary key of the table, on
 * PostgreSQL by its UNIQUE or exclusion constraint too; and where foreign key
 * names belong to the schema (capabilities.foreignKeyNamesPerSchema), a
 * new foreign key's by another table's.
 */
export function refuseTakenConstraintName(
  ctx: PlanContext,
  what: string,
  table: string,
  name: string,
  kind: 'check' | 'foreign key',
): void {
  const same = (other: string | undefined) => other !== undefined && ctx.model.rules.sameColumn(other, name);
  const own = (t: TableModel) => (t.constraints ?? []).filter((c) => c.from === undefined);
  const owner = ctx.model.table(table)!;
  // PostgreSQL: a UNIQUE or exclusion constraint, named as its index.
  const index = owner.indexes.find((i) => i.constraint && same(i.name));
  const holder =
    own(owner).find((c) => same(c.name))?.kind ??
    (same(owner.primaryKeyName) ? 'primary key' : undefined) ??
    (index ? (index.unique ? 'unique constraint' : 'exclusion constraint') : undefined);
  const elsewhere =
    kind === 'foreign key' && ctx.dialect.capabilities.foreignKeyNamesPerSchema
      ? ctx.model.tables.find((t) => t !== owner && own(t).some((c) => c.kind === 'foreign key' && same(c.name)))
      : undefined;
  if (holder || elsewhere)
    throw new ValidationError(
      ctx.migration,
      `${what}: a ${holder ?? 'foreign key'} named ${JSON.stringify(name)} already exists on ${holder ? table : elsewhere!.name}`,
      { hint: `give the ${kind} another name${holder ? '' : `: ${ctx.dialect.displayName} names foreign keys per database`}` },
    );
}

/** An index of this name is there already: on the table where index names are its own (MySQL/MariaDB), else in the schema. */
export function indexNameTaken(ctx: PlanContext, source: string, name: string): boolean {
  if (!ctx.dialect.capabilities.indexNamesPerTable) return ctx.model.index(name) !== undefined;
  return (ctx.model.table(source)?.indexes ?? []).some((i) => i.name.toLowerCase() === name.toLowerCase());
}

/**
 * Refuses an expression the dual-write trigger computes (`up`, `down`) that
 * reads a column whose value a BEFORE trigger does not see, or every row an
 * app writes would get a value computed from the wrong one: on
 * MySQL/MariaDB the AUTO_INCREMENT column, 0 until the server numbers the
 * row after the trigger; where the engine computes generated columns after
 * the BEFORE triggers (PostgreSQL, capabilities.triggersSeeGeneratedColumns),
 * a generated column, NULL to them.
 */
export function refuseTriggerBlindReads(ctx: PlanContext, what: string, table: string, expression: string | undefined): void {
  if (expression === undefined) return;
  const { dialect } = ctx;
  const mysql = dialect.sqlFlavour === 'mysql';
  const blind = (ctx.model.table(sourceTable(ctx, table))?.columns ?? []).filter(
    (c) => (mysql && c.identity !== undefined) || (c.generated && !dialect.capabilities.triggersSeeGeneratedColumns),
  );
  if (blind.length === 0) return;
  const names = tokenize(expression, dialect.sqlFlavour).tokens.flatMap((t) =>
    t.kind === 'word' ? [t.text] : t.kind === 'ident' ? [t.value] : [],
  );
  const read = blind.find((c) => names.some((n) => dialect.rules.sameColumn(n, c.name)));
  if (!read) return;
  if (read.generated)
    throw new ValidationError(
      ctx.migration,
      `${what} reads ${read.name}, a generated column, which ${dialect.displayName} computes after the row's BEFORE triggers: they see it NULL`,
      { hint: 'compute it from the columns the generated one is computed from' },
    );
  throw new ValidationError(
    ctx.migration,
    `${what} reads ${read.name}, the AUTO_INCREMENT column, which a ${dialect.displayName} trigger sees as 0 when a row is inserted (the server numbers it after)`,
    { hint: 'compute it from other columns, or fill it with an op.backfill job' },
  );
}

/** Shared checks, so every operation words the same mistake the same way. */
export function requireTable(ctx: PlanContext, table: string): void {
  const found = ctx.view.table(table);
  if (!found) {
    throw new ValidationError(ctx.migration, `unknown table ${JSON.stringify(table)}`);
  }
  // Its partitions would get triggers and views of their own, and a column dropped from it could not go from them.
  const partitioned = ctx.model.table(found.source)?.partitioned;
  if (partitioned) {
    const what = partitioned === 'partition' ? 'a partition of a partitioned table' : 'partitioned';
    throw new ValidationError(ctx.migration, `table ${JSON.stringify(table)} is ${what}, which zmigrate does not change online yet`, {
      hint: 'change it with op.sql, whose statements run as written',
    });
  }
}

export function requireColumn(ctx: PlanContext, table: string, column: string): void {
  requireTable(ctx, table);
  if (!ctx.view.column(table, column)) {
    throw new ValidationError(ctx.migration, `unknown column ${JSON.stringify(column)} in table ${JSON.stringify(table)}`);
  }
}

export function requireNoTable(ctx: PlanContext, table: string): void {
  if (ctx.view.table(table) || ctx.model.table(table)) {
    throw new ValidationError(ctx.migration, `table ${JSON.stringify(table)} already exists`);
  }
  const other = ctx.model.other(table);
  if (other)
    throw new ValidationError(ctx.migration, `${JSON.stringify(other)} already exists (a view or sequence), so no table can take its name`);
}

/** The physical table behind a name the previous version uses. */
export function sourceTable(ctx: PlanContext, table: string): string {
  requireTable(ctx, table);
  return ctx.view.table(table)!.source;
}

/**
 * What the backfill walks the table by (chooseWalkKey); refuses, before
 * anything changes, a table that has nothing to walk it by.
 */
export function requireWalkKey(ctx: PlanContext, table: string): WalkKey {
  const model = ctx.model.table(sourceTable(ctx, table))!;
  const key = chooseWalkKey(model, ctx.dialect.rowAddress !== undefined);
  if (key) return key;
  const missing = missingWalkKey(model);
  throw new ValidationError(
    ctx.migration,
    `table ${JSON.stringify(table)} ${missing.reason}, which the backfill needs to walk it in batches on ${ctx.dialect.displayName}`,
    { hint: missing.hint },
  );
}

/** A table's columns that the server sets on every update of a row (MySQL/MariaDB ON UPDATE CURRENT_TIMESTAMP). */
export function onUpdateColumns(ctx: { model: SchemaModel }, table: string): string[] {
  return (ctx.model.table(table)?.columns ?? []).filter((c) => c.onUpdate !== undefined).map((c) => c.name);
}

/** The walk key of a physical table, which validate checked it has. */
export function walkKeyOf(ctx: { dialect: Dialect; model: SchemaModel }, table: string): WalkKey {
  const key = chooseWalkKey(ctx.model.table(table)!, ctx.dialect.rowAddress !== undefined);
  if (!key) throw new Error(`table ${JSON.stringify(table)} has no key to walk (validate should have refused it)`);
  return key;
}

/**
 * `<table>_<columns>_<suffix>` (PostgreSQL's own naming), shortened with a
 * hash when too long for the engine, so two long names do not collide.
 */
export function defaultName(ctx: PlanContext, table: string, columns: string[], suffix: string): string {
  const name = `${table}_${columns.join('_')}_${suffix}`;
  const max = ctx.dialect.capabilities.maxIdentifierLength;
  if (Buffer.byteLength(name) <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${Buffer.from(name)
    .subarray(0, max - 9)
    .toString('utf8')
    .replace(/\uFFFD+$/, '')}_${hash}`;
}

/**
 * The name of a NOT NULL check zmigrate adds on PostgreSQL:
 * `<prefix><column><suffix>` while the column has at most `keep` characters
 * and the name fits 63 bytes (PostgreSQL would cut a longer one, and two
 * columns that begin alike would get one name, the second ADD CONSTRAINT
 * failing after the backfill); else the column's first bytes and a hash of it.
 */
export function notNullCheckName(prefix: string, column: string, suffix: string, keep: number): string {
  const name = `${prefix}${column}${suffix}`;
  if (column.length <= keep && Buffer.byteLength(name) <= 63) return name;
  const hash = createHash('sha256').update(column).digest('hex').slice(0, 8);
  const room = 63 - Buffer.byteLength(prefix) - Buffer.byteLength(suffix) - hash.length - 1;
  const start = Buffer.from(column)
    .subarray(0, room)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
  return `${prefix}${start}_${hash}${suffix}`;
}

/**
 * The backfill that fills `column` of a physical table with `up` where it is
 * still NULL, and the check that every row then holds what it should. A
 * check that does not compare with `up` (`compares: false`) cannot tell a
 * row an app updated meanwhile: such a backfill runs under the whole
 * trigger from the start (BackfillSpec.stale).
 */
export function fillNulls(
  ctx: DualWriteContext,
  table: string,
  column: string,
  up: string,
  check: { what: string; mismatch: string; compares?: false },
): Pick<DualWrite, 'backfill' | 'verify'> {
  const key = walkKeyOf(ctx, table);
  const { compares, ...verify } = check;
  const stale = compares === false ? {} : { stale: check.mismatch };
  return {
    backfill: [{ table, key, set: { [column]: up }, where: `${ctx.dialect.quote(column)} IS NULL`, ...stale }],
    verify: [{ table, key, ...verify }],
  };
}

/**
 * What verification holds a column filled from `up` to where the server
 * says `up` may give another value when computed again (DualWriteContext.mutable):
 * not that it equals `up` computed once more, which it would fail on every
 * row, but that it is filled wherever `up` gives a value; the log says so.
 */
export function filledCheck(what: string, column: string, up: string): { what: string; mismatch: string; compares: false } {
  return {
    what: `${what} is filled where up gives a value (up is not immutable, so its values are not compared)`,
    mismatch: `${column} IS NULL AND (${up}) IS NOT NULL`,
    compares: false,
  };
}

/**
 * Refuses a table or column that a view (not zmigrate's) reads, or that
 * another object holds on to (ColumnModel.holders), which the operation's
 * contract would drop or rename: `why` says what would happen then. At
 * contract (`atContract`), the hint is for an object made since expand.
 */
export function refuseReaders(
  ctx: PlanContext,
  what: string,
  read: { views?: QualifiedName[]; holders?: ColumnHolder[] },
  why: string,
  atContract = false,
): void {
  const view = read.views?.[0];
  const held = read.holders?.[0];
  const holder = view ? `view ${view.schema}.${view.name} reads it` : held && `${held.kind} ${held.name} uses it`;
  if (!holder) return;
  const object = view ? 'view' : (held?.kind ?? 'object');
  throw new ValidationError(ctx.migration, `${what}: ${holder}, and ${why}`, {
    hint: atContract
      ? `drop the ${object} (or change it so it no longer uses the column) and run zmigrate contract again: nothing has changed yet`
      : `drop the ${object === 'view' ? 'view' : 'object'} in an earlier migration (op.sql) and create it again in a later one`,
  });
}

/** Drops an index this migration built, and takes it out of the model. */
export function dropBuiltIndex(ctx: PlanContext, table: string, name: string): Step[] {
  const source = sourceTable(ctx, table);
  const model = ctx.model.table(source)!;
  model.indexes = model.indexes.filter((i) => i.name !== name);
  return [ctx.dialect.dropIndex(source, name)];
}
