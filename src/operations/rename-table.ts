import type { SchemaModel, VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { ValidationError } from '../errors';
import { checkIdentifier } from './checks';
import { refuseReaders, requireNoTable, sourceTable, type Operation, type PlanContext } from './operation';

/**
 * The new version sees `to`, the old one `from`: the new version schema's
 * view `to` reads the physical table `from`, so both apps read and write the
 * same rows with no trigger. Contract renames the table for real (a short
 * exclusive lock, no copy) and the version schemas' views are recreated on
 * it: on MySQL/MariaDB before the rename, on a bridge view that the rename
 * swaps for the table in one statement, since their views name tables by
 * name; PostgreSQL's views follow the table by itself.
 */
export class RenameTable implements Operation {
  readonly kind = 'renameTable';

  constructor(
    readonly from: string,
    readonly to: string,
  ) {}

  describe(): string {
    return `rename table ${this.from} to ${this.to}`;
  }

  validate(ctx: PlanContext): void {
    sourceTable(ctx, this.from);
    checkIdentifier(ctx.dialect, ctx.migration, 'table name', this.to);
    if (ctx.model.rules.sameTable(this.from, this.to)) {
      throw new ValidationError(ctx.migration, `renameTable ${JSON.stringify(this.from)}: the new name is the same`);
    }
    requireNoTable(ctx, this.to);
    // PostgreSQL's views follow a renamed table; MySQL/MariaDB's look it up by its name.
    if (!ctx.dialect.capabilities.viewsHoldColumns) {
      refuseReaders(
        ctx,
        `renameTable ${this.from}`,
        ctx.model.table(sourceTable(ctx, this.from))!,
        `it would fail once contract renames the table (${ctx.dialect.displayName} finds tables by name)`,
      );
    }
  }

  expand(): Step[] {
    return [];
  }

  contract(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.from);
    const table = ctx.model.table(source);
    if (table) table.name = this.to;
    return ctx.dialect.renameTable(source, this.to);
  }

  rollback(): Step[] {
    return [];
  }

  /** Before contract the view `to` reads the physical `from`; after it, the physical `to`. */
  shapeView(view: VersionView, model: SchemaModel): void {
    const table = view.table(this.from);
    if (!table) return;
    table.name = this.to;
    if (!model.table(table.source) && model.table(this.to)) table.source = model.table(this.to)!.name;
  }

  reshapes(): string[] {
    return [this.from, this.to];
  }
}
