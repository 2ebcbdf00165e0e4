import type { AlterColumnSpec, ColumnSpec } from '../migration/types';
import {
  describeConstraint,
  isForeignKeyEnd,
  type ColumnModel,
  type ConstraintModel,
  type ForeignKeyReference,
  type IndexModel,
  type SchemaModel,
  type VersionView,
} from '../engine/schema-model';
import type { Step } from '../engine/step';
import { helperColumn, rowOf, type VerifySpec } from '../engine/dual-write';
import type { ForeignKeyDefinition } from '../dialects/dialect';
import { ValidationError } from '../errors';
import { checkSqlFragment } from './checks';
import { orphanCheck } from './add-foreign-key';
import {
  requireColumn,
  requireWalkKey,
  sourceTable,
  fillNulls,
  walkKeyOf,
  type DualWrite,
  type DualWriteContext,
  type Operation,
  type PlanContext,
} from './operation';

/**
 * A new physical column beside the old one (`_zm_<column>`): `up` maps old to
 * new and `down` new to old, both kept in sync by triggers, old rows
 * backfilled. The new version sees the new column under the old name. At
 * contract the old column goes and the new one takes its name; rollback drops
 * the new one.
 */
export class AlterColumn implements Operation {
  readonly kind = 'alterColumn';

  constructor(
    readonly table: string,
    readonly column: string,
    readonly spec: AlterColumnSpec,
  ) {}

  describe(): string {
    return `alter column ${this.table}.${this.column}`;
  }

  validate(ctx: PlanContext): void {
    requireColumn(ctx, this.table, this.column);
    requireWalkKey(ctx, this.table);
    const what = `alterColumn ${this.table}.${this.column}`;
    if (typeof this.spec !== 'object' || this.spec === null) throw new ValidationError(ctx.migration, `${what}: needs { up, down, ... }`);
    checkSqlFragment(ctx.dialect, ctx.migration, `${what}: up`, this.spec.up);
    checkSqlFragment(ctx.dialect, ctx.migration, `${what}: down`, this.spec.down);
    if (this.spec.type !== undefined) checkSqlFragment(ctx.dialect, ctx.migration, `${what}: type`, this.spec.type);
    if (this.spec.default !== undefined) checkSqlFragment(ctx.dialect, ctx.migration, `${what}: default`, this.spec.default);
    if (this.spec.type === undefined && this.spec.nullable === undefined && this.spec.default === undefined) {
      throw new ValidationError(ctx.migration, `${what}: nothing to change (give type, nullable or default)`);
    }
    const { source, physical } = this.names(ctx);
    const table = ctx.model.table(source)!;
    if (table.primaryKey.some((c) => ctx.dialect.rules.sameColumn(c, physical))) {
      throw new ValidationError(ctx.migration, `${what}: the column is part of the primary key, which zmigrate does not rebuild online`);
    }
    this.refuseConstraints(ctx, what);
    this.refuseKeyTypes(ctx, what);
    const special = this.indexes(ctx).find((i) => i.special);
    if (special) {
      throw new ValidationError(
        ctx.migration,
        `${what}: index ${JSON.stringify(special.name)} is partial or over expressions and cannot be carried over to the new column`,
        {
          hint: 'drop it in an earlier migration and create it again after this one',
        },
      );
    }
  }

  /**
   * Checks, foreign keys of other tables to the column, and its own foreign
   * keys where the dialect cannot carry them over (see foreignKeys) are not
   * carried over to the new column: PostgreSQL would drop them with the old
   * column at contract, and MySQL/MariaDB would refuse to drop it. So they
   * are refused up front.
   */
  private refuseConstraints(ctx: PlanContext, what: string): void {
    const { source, physical } = this.names(ctx);
    const carried = [...this.foreignKeys(ctx), ...this.checks(ctx).map((c) => c.check)];
    const bound = (ctx.model.table(source)!.constraints ?? []).find(
      (c) => !carried.includes(c) && c.columns.some((k) => ctx.dialect.rules.sameColumn(k, physical)),
    );
    if (bound) {
      throw new ValidationError(
        ctx.migration,
        `${what}: ${describeConstraint(bound)} uses the column, and zmigrate cannot carry it over to the new column yet`,
        {
          hint: 'drop it in an earlier migration (op.sql) and add it again in a later one (op.addForeignKey, op.addCheck)',
        },
      );
    }
  }

  /**
   * The column's own foreign keys (from its table) that are built again on
   * the new column: added after the backfill as addForeignKey adds one
   * (without a scan under lock; the verification has looked for rows whose
   * parent is missing first), validated at contract where the engine can
   * before the old column and its keys go, then renamed to the old keys'
   * names. Only where the dialect can rename a foreign key, and only keys it
   * can write again the same (ConstraintModel.references).
   */
  private foreignKeys(ctx: PlanContext | DualWriteContext): ConstraintModel[] {
    const { dialect } = ctx;
    if (!dialect.renameForeignKey) return [];
    const { source, physical } = this.physical(ctx);
    return (ctx.model.table(source)?.constraints ?? []).filter(
      (c) =>
        c.kind === 'foreign key' &&
        c.from === undefined &&
        c.references !== undefined &&
        c.columns.some((k) => dialect.rules.sameColumn(k, physical)),
    );
  }

  /** A foreign key as this operation builds it on the new column: its name, and its columns with the new one. */
  private shadowKey(key: ConstraintModel, physical: string, helper: string): ConstraintModel & { references: ForeignKeyReference } {
    return {
      kind: 'foreign key',
      name: helperColumn(key.name),
      columns: key.columns.map((c) => (c === physical ? helper : c)),
      references: key.references!,
    };
  }

  /**
   * The checks on the column that are built again on the new column, as
   * op.addCheck adds one (NOT VALID, once the verification found no row of
   * the new column that breaks it), validated at contract before the old
   * column and its checks go, then renamed to the old names. Only where the
   * dialect can rewrite the condition for the new column and rename a
   * constraint, and only checks it can write again (ConstraintModel.expression).
   */
  private checks(ctx: PlanContext | DualWriteContext): Array<{ check: ConstraintModel; shadow: ConstraintModel & { expression: string } }> {
    const { dialect } = ctx;
    if (!dialect.rewriteColumn || !dialect.renameConstraint || !dialect.addCheck || !dialect.validateConstraint) return [];
    const { source, physical } = this.physical(ctx);
    const helper = helperColumn(physical);
    return (ctx.model.table(source)?.constraints ?? []).flatMap((check) => {
      if (check.kind !== 'check' || check.expression === undefined || !check.columns.some((k) => dialect.rules.sameColumn(k, physical)))
        return [];
      const expression = dialect.rewriteColumn!(check.expression, physical, helper);
      const name = helperColumn(check.name);
      // Not under the name of the NOT NULL check this operation may add.
      if (expression === undefined || name === this.checkName(helper)) return [];
      return [
        { check, shadow: { kind: 'check' as const, name, columns: check.columns.map((c) => (c === physical ? helper : c)), expression } },
      ];
    });
  }

  /** A carried foreign key whose parent column the new type cannot reference, where the engine requires like types. */
  private refuseKeyTypes(ctx: PlanContext, what: string): void {
    const match = ctx.dialect.keyTypesMatch?.bind(ctx.dialect);
    if (!match) return;
    const { physical, old } = this.names(ctx);
    const type = this.final(old).type;
    for (const key of this.foreignKeys(ctx)) {
      const position = key.columns.findIndex((c) => ctx.dialect.rules.sameColumn(c, physical));
      const parent = key.references!;
      const parentType = ctx.model.column(parent.table, parent.columns[position])?.type;
      if (parentType === undefined || match(type, parentType)) continue;
      throw new ValidationError(
        ctx.migration,
        `${what}: ${describeConstraint(key)} references ${parent.table}.${parent.columns[position]} (${parentType}), which ${ctx.dialect.displayName} does not let a column of type ${type} reference`,
        { hint: 'keep a type the referenced column matches, or drop the key in an earlier migration and add it again in a later one' },
      );
    }
  }

  /** The indexes that use the column: rebuilt on the new column at expand, renamed at contract. */
  private indexes(ctx: PlanContext): IndexModel[] {
    const { source, physical } = this.names(ctx);
    return ctx.model
      .table(source)!
      .indexes.filter((i) => i.columns.some((c) => ctx.dialect.rules.sameColumn(c, physical)) && !i.name.startsWith('_zm_'));
  }

  private shadowIndex(name: string): string {
    return helperColumn(name);
  }

  private names(ctx: PlanContext): { source: string; physical: string; helper: string; old: ColumnModel } {
    const source = sourceTable(ctx, this.table);
    const physical = ctx.view.column(this.table, this.column)!.source;
    const old = ctx.model.column(source, physical)!;
    return { source, physical, old, helper: helperColumn(physical) };
  }

  /** The table and column as they are before this migration, from planning or from the dual-write rules' context. */
  private physical(ctx: PlanContext | DualWriteContext): { source: string; physical: string } {
    if ('view' in ctx) return this.names(ctx);
    return { source: ctx.previous.table(this.table)!.source, physical: ctx.previous.column(this.table, this.column)!.source };
  }

  /** The column as it ends up: what the operation says, else what the column had. */
  private final(old: ColumnModel): ColumnSpec {
    return {
      type: this.spec.type ?? old.type,
      nullable: this.spec.nullable ?? old.nullable,
      default: this.spec.default ?? old.default ?? undefined,
    };
  }

  private checkName(helper: string): string {
    return `${helper.slice(0, 48)}_not_null`;
  }

  expand(ctx: PlanContext): Step[] {
    const { source, helper, old } = this.names(ctx);
    const final = this.final(old);
    const invisible = ctx.dialect.capabilities.invisibleColumns;
    // Nullable and without a default while live, so the trigger can tell which app wrote a row.
    ctx.model.table(source)!.columns.push({ name: helper, type: final.type, nullable: true, default: null, invisible });
    const steps = [ctx.dialect.addColumn(source, helper, { type: final.type, nullable: true }, { invisible })];
    for (const index of this.indexes(ctx)) {
      const columns = index.columns.map((c) => (ctx.dialect.rules.sameColumn(c, old.name) ? helper : c));
      const shadow = { name: this.shadowIndex(index.name), columns, unique: index.unique };
      ctx.model.table(source)!.indexes.push(shadow);
      steps.push(ctx.dialect.createIndex(source, shadow));
    }
    // Added after the backfill (dualWrite's afterBackfill), as the keys are; later migrations of the same run see them.
    for (const { shadow } of this.checks(ctx)) ctx.model.table(source)!.constraints?.push(shadow);
    // Added after the backfill (dualWrite's afterBackfill); later migrations of the same run see it at both ends.
    for (const key of this.foreignKeys(ctx)) {
      const shadow = this.shadowKey(key, old.name, helper);
      ctx.model.table(source)!.constraints?.push(shadow);
      ctx.model
        .table(shadow.references.table)
        ?.constraints?.push({ kind: 'foreign key', name: shadow.name, from: source, columns: shadow.references.columns });
    }
    return steps;
  }

  contract(ctx: PlanContext): Step[] {
    const { source, physical, helper, old } = this.names(ctx);
    const final = this.final(old);
    const steps: Step[] = [];
    const checked = final.nullable === false && ctx.dialect.validateConstraint !== undefined;
    if (checked) steps.push(ctx.dialect.validateConstraint!(source, this.checkName(helper)));
    const indexes = this.indexes(ctx);
    // Validated before the old column goes with its keys: a scan that takes no lock writes wait for.
    const keys = this.foreignKeys(ctx);
    if (ctx.dialect.validateConstraint) for (const key of keys) steps.push(ctx.dialect.validateConstraint(source, helperColumn(key.name)));
    const checks = this.checks(ctx);
    for (const { shadow } of checks) steps.push(ctx.dialect.validateConstraint!(source, shadow.name));
    const keyNames = keys.map((k) => k.name);
    // The old keys go with the placeholder, whose value has no parent; else with the old column.
    const placeholder =
      !old.nullable && old.default === null ? ctx.dialect.placeholderDefault?.(source, physical, old.type, keyNames) : undefined;
    if (placeholder) steps.unshift(placeholder);
    steps.push(
      ctx.dialect.replaceColumn(
        source,
        physical,
        helper,
        { ...final, comment: old.comment },
        indexes.map((i) => i.name),
        placeholder ? [] : keyNames,
      ),
    );
    if (checked) steps.push(ctx.dialect.dropConstraint!(source, this.checkName(helper)));
    // The old indexes and foreign keys went with the old column; the rebuilt ones take their names.
    for (const index of indexes) steps.push(ctx.dialect.renameIndex(source, this.shadowIndex(index.name), index.name));
    // A UNIQUE constraint's index is rebuilt as a plain unique index: it becomes the constraint again (no scan).
    for (const index of indexes)
      if (index.constraint && ctx.dialect.attachUniqueConstraint) steps.push(ctx.dialect.attachUniqueConstraint(source, index.name));
    for (const key of keys) {
      steps.push(ctx.dialect.renameForeignKey!(source, helperColumn(key.name), keyDefinition(key.name, key.columns, key.references!)));
    }
    for (const { check, shadow } of checks) steps.push(ctx.dialect.renameConstraint!(source, shadow.name, check.name));
    this.renameKeysInModel(ctx, source, keys, { from: helper, to: physical });
    const table = ctx.model.table(source)!;
    // The old checks went with the old column; the rebuilt ones take their names (their columns and conditions, in
    // the column's final name, are the old ones').
    table.constraints = table.constraints
      ?.filter((c) => !checks.some(({ check }) => c === check))
      .map((c) => checks.find(({ shadow }) => c.kind === 'check' && c.name === shadow.name)?.check ?? c);
    table.indexes = table.indexes
      .filter((i) => !indexes.includes(i))
      .map((i) => {
        const original = indexes.find((o) => this.shadowIndex(o.name) === i.name);
        const columns = i.columns.map((c) => (c === helper ? physical : c));
        return original ? { ...i, name: original.name, columns, ...(original.constraint ? { constraint: true } : {}) } : i;
      });
    table.columns = table.columns
      .filter((c) => !ctx.dialect.rules.sameColumn(c.name, physical))
      .map((c) =>
        c.name === helper
          ? {
              ...c,
              name: physical,
              nullable: final.nullable !== false,
              default: final.default ?? null,
              invisible: false,
              comment: old.comment,
            }
          : c,
      );
    return steps;
  }

  /** After contract, in the model: each carried key is gone from both ends, and its shadow has taken its name and columns. */
  private renameKeysInModel(ctx: PlanContext, source: string, keys: ConstraintModel[], column: { from: string; to: string }): void {
    for (const key of keys) {
      const shadow = helperColumn(key.name);
      for (const table of ctx.model.tables) {
        const mine = table.name === source;
        table.constraints = (table.constraints ?? [])
          .filter((c) => !isForeignKeyEnd(c, key.name, table, source))
          .map((c) =>
            isForeignKeyEnd(c, shadow, table, source)
              ? { ...c, name: key.name, columns: mine ? c.columns.map((k) => (k === column.from ? column.to : k)) : c.columns }
              : c,
          );
      }
    }
  }

  rollback(ctx: PlanContext): Step[] {
    const { source, helper } = this.names(ctx);
    const table = ctx.model.table(source)!;
    // The checks and keys built on the new column go first (the keys at both ends): InnoDB keeps a column and an
    // index a key uses.
    const checks = this.checks(ctx).map(({ shadow }) => shadow.name);
    table.constraints = table.constraints?.filter((c) => !(c.kind === 'check' && checks.includes(c.name)));
    const keys = this.foreignKeys(ctx).map((key) => helperColumn(key.name));
    for (const shadow of keys)
      for (const t of ctx.model.tables) t.constraints = t.constraints?.filter((c) => !isForeignKeyEnd(c, shadow, t, source));
    const shadows = table.indexes.filter((i) => i.columns.includes(helper));
    table.columns = table.columns.filter((c) => c.name !== helper);
    table.indexes = table.indexes.filter((i) => !shadows.includes(i));
    // Shadow indexes first: MariaDB refuses to drop a column out of a multi-column unique index.
    return [
      ...checks.map((name) => ctx.dialect.dropConstraint!(source, name)),
      ...keys.flatMap((shadow) => ctx.dialect.dropForeignKey(source, shadow)),
      ...shadows.map((i) => ctx.dialect.dropIndex(source, i.name)),
      ctx.dialect.dropColumn(source, helper),
    ];
  }

  shapeView(view: VersionView, model: SchemaModel): void {
    const column = view.column(this.table, this.column);
    const helper = column && helperColumn(column.source);
    // Once contracted, the helper has taken the column's name.
    if (column && helper && model.column(view.table(this.table)!.source, helper)) column.source = helper;
  }

  dualWrite(ctx: DualWriteContext): DualWrite {
    const previous = ctx.previous.table(this.table)!;
    const physical = ctx.previous.column(this.table, this.column)!.source;
    const helper = ctx.next.column(this.table, this.column)!.source;
    const fill = fillNulls(ctx, previous.source, helper, this.spec.up, {
      what: `${this.table}.${this.column} (new) = up(old)`,
      mismatch: ctx.dialect.isDistinct(ctx.dialect.quote(helper), `(${this.spec.up})`),
    });
    const keys = this.keysOnHelper(ctx, previous.source, physical, helper);
    const checks = this.checksOnHelper(ctx, previous.source);
    return {
      table: previous.source,
      rules: [
        // The new app wrote the new column: derive the old one.
        {
          target: physical,
          expression: this.spec.down,
          row: rowOf(ctx.next.table(this.table)),
          onInsert: { notNull: helper },
          onUpdate: { changed: [helper] },
        },
        // The old app wrote the old column: derive the new one.
        {
          target: helper,
          expression: this.spec.up,
          row: rowOf(previous),
          onInsert: { isNull: helper },
          // …or the row is not backfilled yet: fill it now, as the backfill would.
          onUpdate: { any: [{ isNull: helper }, { all: [{ unchanged: helper }, { changed: [physical] }] }] },
        },
      ],
      ...fill,
      verify: [...(fill.verify ?? []), ...keys.map((k) => k.verify), ...checks.map((c) => c.verify)],
      afterBackfill: [...this.notNullCheck(ctx, previous.source, helper), ...keys.map((k) => k.add), ...checks.map((c) => c.add)],
    };
  }

  /**
   * Each carried foreign key (foreignKeys) on the new column: the scan for
   * rows whose new value has no parent, which runs with the verification,
   * and the key itself, added once the backfill and the scan are done.
   */
  private keysOnHelper(ctx: DualWriteContext, source: string, physical: string, helper: string): Array<{ verify: VerifySpec; add: Step }> {
    return this.foreignKeys(ctx).flatMap((key) => {
      const shadow = this.shadowKey(key, physical, helper);
      const what = `${this.table}.${this.column} (new) of foreign key ${JSON.stringify(key.name)} references ${shadow.references.table} (${shadow.references.columns.join(', ')})`;
      const verify = orphanCheck(ctx, { table: source, columns: shadow.columns }, shadow.references, what);
      if (!verify) return [];
      return [{ verify, add: ctx.dialect.addForeignKey(source, keyDefinition(shadow.name, shadow.columns, shadow.references)) }];
    });
  }

  /**
   * Each carried check (checks) on the new column: the scan for rows whose
   * new value breaks it, which runs with the verification, and the check
   * itself, added once the backfill and the scan are done.
   */
  private checksOnHelper(ctx: DualWriteContext, source: string): Array<{ verify: VerifySpec; add: Step }> {
    const key = walkKeyOf(ctx, source);
    return this.checks(ctx).map(({ check, shadow }) => ({
      // A check holds unless its condition is false (NULL passes).
      verify: {
        table: source,
        key,
        what: `${this.table}.${this.column} (new) meets check ${JSON.stringify(check.name)}`,
        mismatch: `(${shadow.expression}) IS FALSE`,
      },
      add: ctx.dialect.addCheck!(source, shadow.name, shadow.expression),
    }));
  }

  private notNullCheck(ctx: DualWriteContext, source: string, helper: string): Step[] {
    const old = ctx.model.column(source, ctx.previous.column(this.table, this.column)!.source)!;
    if (this.final(old).nullable !== false || !ctx.dialect.addNotNullCheck) return [];
    return [ctx.dialect.addNotNullCheck(source, helper, this.checkName(helper))];
  }

  reshapes(): string[] {
    return [this.table];
  }
}

/** How a dialect writes a foreign key: its name and columns, and what it references and does on delete. */
function keyDefinition(name: string, columns: string[], references: ForeignKeyReference): ForeignKeyDefinition {
  const { table, columns: referenced, onDelete } = references;
  return { name, columns, references: { table, columns: referenced }, ...(onDelete ? { onDelete } : {}) };
}
