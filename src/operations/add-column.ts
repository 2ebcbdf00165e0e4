import type { AddColumnSpec } from '../migration/types';
import type { VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { rowOf } from '../engine/dual-write';
import { ValidationError } from '../errors';
import { checkColumnSpec, checkIdentifier, checkSqlFragment } from './checks';
import {
  requireWalkKey,
  requireTable,
  sourceTable,
  fillNulls,
  type DualWrite,
  type DualWriteContext,
  type Operation,
  type PlanContext,
} from './operation';

/**
 * A new column. At expand it is added so the old app does not notice it
 * (INVISIBLE where the engine has that). With `up`, a trigger fills it for the
 * old app's writes and a backfill for the rows already there; NOT NULL and the
 * default then take effect at contract. Rollback drops it.
 */
export class AddColumn implements Operation {
  readonly kind = 'addColumn';

  constructor(
    readonly table: string,
    readonly column: string,
    readonly spec: AddColumnSpec,
  ) {}

  describe(): string {
    return `add column ${this.table}.${this.column}`;
  }

  validate(ctx: PlanContext): void {
    requireTable(ctx, this.table);
    checkIdentifier(ctx.dialect, ctx.migration, 'column name', this.column);
    checkColumnSpec(ctx.dialect, ctx.migration, `${this.table}.${this.column}`, this.spec);
    const source = sourceTable(ctx, this.table);
    if (ctx.view.column(this.table, this.column) || ctx.model.column(source, this.column)) {
      throw new ValidationError(
        ctx.migration,
        `column ${JSON.stringify(this.column)} already exists in table ${JSON.stringify(this.table)}`,
      );
    }
    if (this.spec.primaryKey || this.spec.unique) {
      throw new ValidationError(
        ctx.migration,
        `addColumn ${this.table}.${this.column}: primaryKey/unique would build an index under a lock`,
        {
          hint: 'add the column, then op.createIndex(..., { unique: true })',
        },
      );
    }
    if (this.spec.up !== undefined) {
      checkSqlFragment(ctx.dialect, ctx.migration, `addColumn ${this.table}.${this.column}: up`, this.spec.up);
      requireWalkKey(ctx, this.table);
    } else if (this.spec.nullable === false && this.spec.default === undefined) {
      throw new ValidationError(
        ctx.migration,
        `addColumn ${this.table}.${this.column}: a NOT NULL column needs a default or an up expression, or the old app's inserts would fail`,
        {
          hint: "give it a default (default: '0') or up: 'SQL over the old row'",
        },
      );
    }
  }

  /** With `up`, the column starts nullable and without default, so the trigger can tell who wrote it. */
  private get expandSpec(): AddColumnSpec {
    return this.spec.up === undefined ? this.spec : { type: this.spec.type, nullable: true };
  }

  private get checkName(): string {
    return `${this.column.slice(0, 40)}_zm_not_null`;
  }

  private get checked(): boolean {
    return this.spec.up !== undefined && this.spec.nullable === false;
  }

  expand(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const invisible = ctx.dialect.capabilities.invisibleColumns;
    const spec = this.expandSpec;
    ctx.model
      .table(source)!
      .columns.push({ name: this.column, type: spec.type, nullable: spec.nullable !== false, default: spec.default ?? null, invisible });
    return [ctx.dialect.addColumn(source, this.column, spec, { invisible })];
  }

  contract(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const column = ctx.model.column(source, this.column);
    if (!column) return [];
    const steps: Step[] = [];
    const checked = this.checked && ctx.dialect.validateConstraint !== undefined;
    if (checked) steps.push(ctx.dialect.validateConstraint!(source, this.checkName));
    if (this.spec.up !== undefined || column.invisible) {
      const finalize = ctx.dialect.finalizeColumn(source, this.column, this.spec, {
        invisible: column.invisible,
        notNullChecked: checked ? this.checkName : undefined,
      });
      if (finalize) steps.push(finalize);
    }
    Object.assign(column, { invisible: false, nullable: this.spec.nullable !== false, default: this.spec.default ?? null });
    return steps;
  }

  rollback(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const table = ctx.model.table(source)!;
    table.columns = table.columns.filter((c) => !ctx.dialect.rules.sameColumn(c.name, this.column));
    return [ctx.dialect.dropColumn(source, this.column)];
  }

  shapeView(view: VersionView): void {
    const table = view.table(this.table);
    if (table && !view.column(this.table, this.column)) table.columns.push({ name: this.column, source: this.column });
  }

  dualWrite(ctx: DualWriteContext): DualWrite | undefined {
    if (this.spec.up === undefined) return undefined;
    const previous = ctx.previous.table(this.table)!;
    const others = previous.columns.map((c) => c.source);
    return {
      table: previous.source,
      rules: [
        {
          target: this.column,
          expression: this.spec.up,
          row: rowOf(previous),
          onInsert: { isNull: this.column },
          // The old app changed the row (it cannot set the new column): recompute. An app of the
          // new version that left the column as it was meant it; without a session signal (MySQL
          // clients not using the helpers) that case cannot be told apart, and the column is recomputed.
          onUpdate: {
            any: [{ isNull: this.column }, { all: [{ unchanged: this.column }, { changed: others }, { not: { newApp: true } }] }],
          },
        },
      ],
      ...fillNulls(ctx, previous.source, this.column, this.spec.up, {
        what: `${this.table}.${this.column} = up(row)`,
        mismatch: ctx.dialect.isDistinct(ctx.dialect.quote(this.column), `(${this.spec.up})`),
      }),
      afterBackfill:
        this.checked && ctx.dialect.addNotNullCheck ? [ctx.dialect.addNotNullCheck(previous.source, this.column, this.checkName)] : [],
    };
  }

  reshapes(): string[] {
    return this.spec.up === undefined ? [] : [this.table];
  }
}
