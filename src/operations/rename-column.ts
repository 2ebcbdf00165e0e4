import type { VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { ValidationError } from '../errors';
import { checkIdentifier } from './checks';
import { refuseReaders, requireColumn, sourceTable, type Operation, type PlanContext } from './operation';

/**
 * The new version sees `to`, the old one `from`: both are the same physical
 * column, so reads and writes agree with no trigger. Contract renames it.
 */
export class RenameColumn implements Operation {
  readonly kind = 'renameColumn';

  constructor(
    readonly table: string,
    readonly from: string,
    readonly to: string,
  ) {}

  describe(): string {
    return `rename column ${this.table}.${this.from} to ${this.to}`;
  }

  validate(ctx: PlanContext): void {
    requireColumn(ctx, this.table, this.from);
    checkIdentifier(ctx.dialect, ctx.migration, 'column name', this.to);
    if (ctx.view.column(this.table, this.to) || ctx.model.column(sourceTable(ctx, this.table), this.to)) {
      throw new ValidationError(ctx.migration, `column ${JSON.stringify(this.to)} already exists in table ${JSON.stringify(this.table)}`);
    }
    // PostgreSQL's views, triggers and policies follow a renamed column, but not a trigger function's body;
    // MySQL/MariaDB's views and triggers look it up by its name.
    const physical = ctx.model.column(sourceTable(ctx, this.table), ctx.view.column(this.table, this.from)!.source)!;
    const what = `renameColumn ${this.table}.${this.from}`;
    if (!ctx.dialect.capabilities.viewsHoldColumns)
      refuseReaders(
        ctx,
        what,
        physical,
        `it would fail once contract renames the column (${ctx.dialect.displayName} finds columns by name)`,
      );
    else
      refuseReaders(
        ctx,
        what,
        { holders: physical.holders?.filter((h) => h.kind === 'trigger function') },
        'it would fail once contract renames the column (a function body is not rewritten)',
      );
  }

  expand(): Step[] {
    return [];
  }

  contract(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const physical = ctx.view.column(this.table, this.from)!.source;
    ctx.model.column(source, physical)!.name = this.to;
    return [ctx.dialect.renameColumn(source, physical, this.to)];
  }

  rollback(): Step[] {
    return [];
  }

  shapeView(view: VersionView): void {
    const column = view.column(this.table, this.from);
    if (column) column.name = this.to;
  }

  reshapes(): string[] {
    return [this.table];
  }
}
