import type { DropColumnSpec } from '../migration/types';
import { describeConstraint, isForeignKeyEnd, type ConstraintModel, type VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { rowOf } from '../engine/dual-write';
import { ValidationError } from '../errors';
import { checkSqlFragment } from './checks';
import {
  refuseTriggerBlindReads,
  refuseReaders,
  requireColumn,
  sourceTable,
  type DualWrite,
  type DualWriteContext,
  type Operation,
  type PlanContext,
} from './operation';

/**
 * The new version stops seeing the column at expand; `down` fills it for the
 * rows the new app inserts, so the old app keeps working. Contract drops it.
 */
export class DropColumn implements Operation {
  readonly kind = 'dropColumn';

  constructor(
    readonly table: string,
    readonly column: string,
    readonly spec: DropColumnSpec = {},
  ) {}

  describe(): string {
    return `drop column ${this.table}.${this.column}`;
  }

  validate(ctx: PlanContext): void {
    requireColumn(ctx, this.table, this.column);
    this.refuseKeysTo(ctx, false);
    const source = sourceTable(ctx, this.table);
    const column = ctx.view.column(this.table, this.column)!.source;
    if (ctx.model.table(source)!.primaryKey.some((c) => ctx.dialect.rules.sameColumn(c, column))) {
      throw new ValidationError(
        ctx.migration,
        `dropColumn ${this.table}.${this.column}: the column is part of the primary key, which would go with it at contract ` +
          '(leaving the table without one; on MySQL/MariaDB, after rebuilding the whole table)',
        { hint: 'keep the column, or give the table another primary key first' },
      );
    }
    const physical = ctx.model.column(source, column)!;
    const db = ctx.dialect.displayName;
    const what = `dropColumn ${this.table}.${this.column}`;
    // PostgreSQL drops such an index with the column; MariaDB refuses the drop, MySQL shrinks the index to the rest.
    const shared = ctx.model
      .table(source)!
      .indexes.find((i) => i.unique && i.columns.length > 1 && i.columns.some((c) => ctx.dialect.rules.sameColumn(c, column)));
    if (shared && ctx.dialect.sqlFlavour === 'mysql') {
      throw new ValidationError(
        ctx.migration,
        `${what}: the column is in unique index ${JSON.stringify(shared.name)} with other columns, which ${db} will not drop it out of at contract (MariaDB refuses; MySQL would keep the index on the other columns alone)`,
        { hint: 'drop the index in an earlier migration (op.dropIndex), and create the one you want on the other columns' },
      );
    }
    this.refuseReadersOf(ctx, false);
    if (this.spec.down !== undefined) {
      checkSqlFragment(ctx.dialect, ctx.migration, `dropColumn ${this.table}.${this.column}: down`, this.spec.down);
      refuseTriggerBlindReads(ctx, `dropColumn ${this.table}.${this.column}: down`, this.table, this.spec.down);
      return;
    }
    if (!physical.nullable && physical.default === null) {
      throw new ValidationError(
        ctx.migration,
        `dropColumn ${this.table}.${this.column}: the column is NOT NULL without a default, so the new app's inserts would fail`,
        {
          hint: "give it down: 'SQL over the new row' that fills it",
        },
      );
    }
  }

  /**
   * What uses the column and would stop the contract, or break when it
   * drops the column: another table's foreign key to it; a view, an object
   * that holds on to it (ColumnModel.holders). Checked at expand, and again
   * at contract (`atContract`) for what came since.
   */
  private refuseKeysTo(ctx: PlanContext, atContract: boolean): void {
    const what = `dropColumn ${this.table}.${this.column}`;
    const referenced = this.keys(ctx).find((k) => k.from !== undefined);
    if (referenced) {
      throw new ValidationError(
        ctx.migration,
        `${what}: ${describeConstraint(referenced)} references the column, which would stop contract`,
        {
          hint: atContract
            ? 'drop that key and run zmigrate contract again: nothing has changed yet'
            : 'drop that key in an earlier migration (op.sql), or keep the column',
        },
      );
    }
  }

  /** See refuseKeysTo. */
  private refuseReadersOf(ctx: PlanContext, atContract: boolean): void {
    const what = `dropColumn ${this.table}.${this.column}`;
    const physical = ctx.model.column(sourceTable(ctx, this.table), ctx.view.column(this.table, this.column)!.source)!;
    const db = ctx.dialect.displayName;
    const [bodies, others] = partition(physical.holders ?? [], (h) => h.kind === 'trigger function');
    const breaks = ctx.dialect.capabilities.viewsHoldColumns
      ? `${db} would refuse to drop it at contract`
      : `it would fail (or ${db} refuse the drop) once contract drops the column`;
    refuseReaders(ctx, what, { views: physical.views, holders: others }, breaks, atContract);
    // No dependency keeps a function's body from losing the column: the trigger would fail on every write.
    refuseReaders(ctx, what, { holders: bodies }, 'it would fail once contract drops the column', atContract);
  }

  expand(): Step[] {
    return [];
  }

  checkContract(ctx: PlanContext): void {
    this.refuseKeysTo(ctx, true);
    this.refuseReadersOf(ctx, true);
  }

  /**
   * The column's own foreign keys go with it: first, with the placeholder,
   * whose value has no parent, where there is one; else with the column.
   */
  contract(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const physical = ctx.view.column(this.table, this.column)!.source;
    const table = ctx.model.table(source)!;
    const old = ctx.model.column(source, physical)!;
    const keys = this.keys(ctx).filter((k) => k.from === undefined);
    const names = keys.map((k) => k.name);
    const placeholder =
      !old.nullable && old.default === null ? ctx.dialect.placeholderDefault?.(source, physical, old.type, names) : undefined;
    table.columns = table.columns.filter((c) => !ctx.dialect.rules.sameColumn(c.name, physical));
    // Gone from the model at both ends (the key here, and its mark on the table it references).
    for (const t of ctx.model.tables)
      t.constraints = t.constraints?.filter((c) => !keys.some((k) => isForeignKeyEnd(c, k.name, t, source)));
    return [...(placeholder ? [placeholder] : []), ctx.dialect.dropColumn(source, physical, placeholder ? [] : names)];
  }

  /** The foreign keys that use the column: its table's own, and other tables' to it (`from`). */
  private keys(ctx: PlanContext): ConstraintModel[] {
    const source = sourceTable(ctx, this.table);
    const physical = ctx.view.column(this.table, this.column)!.source;
    return (ctx.model.table(source)?.constraints ?? []).filter(
      (c) => c.kind === 'foreign key' && c.columns.some((k) => ctx.dialect.rules.sameColumn(k, physical)),
    );
  }

  rollback(): Step[] {
    return [];
  }

  shapeView(view: VersionView): void {
    const table = view.table(this.table);
    if (table) table.columns = table.columns.filter((c) => !view.rules.sameColumn(c.name, this.column));
  }

  dualWrite(ctx: DualWriteContext): DualWrite | undefined {
    if (this.spec.down === undefined) return undefined;
    const previous = ctx.previous.table(this.table)!;
    const physical = ctx.previous.column(this.table, this.column)!.source;
    return {
      table: previous.source,
      rules: [
        {
          target: physical,
          expression: this.spec.down,
          row: rowOf(ctx.next.table(this.table)),
          // The new app cannot set the column: a row it inserts holds the column's default, which `down` replaces.
          // Where the session does not say (MySQL/MariaDB without @zmigrate_version), a NULL tells it.
          onInsert: { any: [{ newApp: true }, { isNull: physical }] },
        },
      ],
      backfill: [],
    };
  }

  reshapes(): string[] {
    return [this.table];
  }

  columnsDroppedAtContract(): Array<{ table: string; column: string }> {
    // Named as they are: no other live migration reshapes the table, and no other operation of this one renames it or the column.
    return [{ table: this.table, column: this.column }];
  }
}

/** The items that pass `test`, and the others. */
function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  return [items.filter(test), items.filter((item) => !test(item))];
}
