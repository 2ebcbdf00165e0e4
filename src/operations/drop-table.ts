import { describeConstraint, type VersionView } from '../engine/schema-model';
import { ValidationError } from '../errors';
import type { Step } from '../engine/step';
import { refuseReaders, sourceTable, type Operation, type PlanContext } from './operation';

/** The new version stops seeing the table at expand; it is dropped for real at contract. */
export class DropTable implements Operation {
  readonly kind = 'dropTable';

  constructor(readonly table: string) {}

  describe(): string {
    return `drop table ${this.table}`;
  }

  validate(ctx: PlanContext): void {
    this.refuseHolders(ctx, false);
  }

  /** What was made since expand and would stop the DROP TABLE: refused before contract changes anything. */
  checkContract(ctx: PlanContext): void {
    this.refuseHolders(ctx, true);
  }

  /** Views, functions, columns of its row type and other tables' foreign keys that hold on to the table. */
  private refuseHolders(ctx: PlanContext, atContract: boolean): void {
    const table = ctx.model.table(sourceTable(ctx, this.table))!;
    const breaks = ctx.dialect.capabilities.viewsHoldColumns
      ? `${ctx.dialect.displayName} would refuse to drop the table at contract`
      : 'it would fail once contract drops the table';
    refuseReaders(ctx, `dropTable ${this.table}`, table, breaks, atContract);
    // Another table's foreign key to it stops the drop on both engines, unless that table goes first (an earlier dropTable).
    const key = table.constraints?.find(
      (c) =>
        c.kind === 'foreign key' &&
        c.from !== undefined &&
        !ctx.model.rules.sameTable(c.from, table.name) &&
        ctx.view.tables.some((t) => ctx.model.rules.sameTable(t.source, c.from!)),
    );
    if (key) {
      throw new ValidationError(
        ctx.migration,
        `dropTable ${this.table}: ${describeConstraint(key)} references it, and ${ctx.dialect.displayName} would refuse to drop the table at contract`,
        {
          hint: atContract
            ? 'drop that key and run zmigrate contract again: nothing has changed yet'
            : 'drop that key (or its table, in an earlier operation) first',
        },
      );
    }
  }

  expand(): Step[] {
    return [];
  }

  contract(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    ctx.model.removeTable(source);
    return [ctx.dialect.dropTable(source)];
  }

  rollback(): Step[] {
    return [];
  }

  shapeView(view: VersionView): void {
    view.removeTable(this.table);
  }
}
