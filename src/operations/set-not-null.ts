import type { SetNotNullSpec } from '../migration/types';
import type { Step } from '../engine/step';
import { rowOf } from '../engine/dual-write';
import { ValidationError } from '../errors';
import { checkSqlFragment } from './checks';
import {
  refuseTriggerBlindReads,
  refuseNotNullTimestamp,
  requireColumn,
  requireWalkKey,
  sourceTable,
  fillNulls,
  type DualWrite,
  type DualWriteContext,
  type Operation,
  type PlanContext,
  notNullCheckName,
} from './operation';

/**
 * `up` replaces NULLs, for old rows (backfill) and for the apps' writes
 * (trigger). On PostgreSQL a CHECK (… IS NOT NULL) NOT VALID goes in at
 * expand, is validated at contract without blocking writes, and then SET NOT
 * NULL needs no scan. On MySQL/MariaDB the column becomes NOT NULL online at
 * contract.
 */
export class SetNotNull implements Operation {
  readonly kind = 'setNotNull';

  constructor(
    readonly table: string,
    readonly column: string,
    readonly spec: SetNotNullSpec,
  ) {}

  describe(): string {
    return `set not null ${this.table}.${this.column}`;
  }

  validate(ctx: PlanContext): void {
    requireColumn(ctx, this.table, this.column);
    requireWalkKey(ctx, this.table);
    if (typeof this.spec !== 'object' || this.spec === null) {
      throw new ValidationError(ctx.migration, `setNotNull ${this.table}.${this.column}: needs { up: 'SQL that replaces NULLs' }`);
    }
    checkSqlFragment(ctx.dialect, ctx.migration, `setNotNull ${this.table}.${this.column}: up`, this.spec.up);
    refuseTriggerBlindReads(ctx, `setNotNull ${this.table}.${this.column}: up`, this.table, this.spec.up);
    const { source, column } = this.physical(ctx);
    const model = ctx.model.column(source, column)!;
    const what = `setNotNull ${this.table}.${this.column}`;
    // The engine computes a generated column's values: up cannot fill it, and a restated column would lose its expression.
    if (model.generated) throw new ValidationError(ctx.migration, `${what}: a generated column, which zmigrate cannot fill`);
    refuseNotNullTimestamp(ctx, what, model.type);
  }

  private physical(ctx: PlanContext): { source: string; column: string; check: string } {
    const column = ctx.view.column(this.table, this.column)!.source;
    return { source: sourceTable(ctx, this.table), column, check: checkName(column) };
  }

  expand(): Step[] {
    return [];
  }

  contract(ctx: PlanContext): Step[] {
    const { source, column, check } = this.physical(ctx);
    const model = ctx.model.column(source, column)!;
    model.nullable = false;
    if (!ctx.dialect.validateConstraint) {
      const spec = {
        type: model.collation ? `${model.type} ${model.collation}` : model.type,
        nullable: false,
        default: model.default ?? undefined,
        onUpdate: model.onUpdate,
        comment: model.comment,
        invisible: model.invisible,
      };
      return [ctx.dialect.setNotNull(source, column, spec)];
    }
    return [
      ctx.dialect.validateConstraint(source, check),
      ctx.dialect.finalizeColumn(source, column, { type: model.type, nullable: false }, { invisible: false, notNullChecked: check })!,
    ];
  }

  rollback(ctx: PlanContext): Step[] {
    const { source, check } = this.physical(ctx);
    return ctx.dialect.dropConstraint ? [ctx.dialect.dropConstraint(source, check)] : [];
  }

  shapeView(): void {}

  dualWrite(ctx: DualWriteContext): DualWrite {
    const previous = ctx.previous.table(this.table)!;
    const column = ctx.previous.column(this.table, this.column)!.source;
    return {
      table: previous.source,
      rules: [
        { target: column, expression: this.spec.up, row: rowOf(previous), onInsert: { isNull: column }, onUpdate: { isNull: column } },
      ],
      ...keepingValues(
        fillNulls(ctx, previous.source, column, this.spec.up, {
          what: `${this.table}.${this.column} is not null`,
          mismatch: `${ctx.dialect.quote(column)} IS NULL`,
        }),
      ),
      afterBackfill: ctx.dialect.addNotNullCheck ? [ctx.dialect.addNotNullCheck(previous.source, column, checkName(column))] : [],
    };
  }

  reshapes(): string[] {
    return [this.table];
  }
}

function checkName(column: string): string {
  return notNullCheckName('_zm_', column, '_not_null', 44);
}

/** The column's values are the apps': the backfill fills its NULLs and keeps the rest (BackfillSpec.keepsValues). */
function keepingValues(fill: Pick<DualWrite, 'backfill' | 'verify'>): Pick<DualWrite, 'backfill' | 'verify'> {
  return { ...fill, backfill: fill.backfill.map((b) => ({ ...b, keepsValues: true as const })) };
}
