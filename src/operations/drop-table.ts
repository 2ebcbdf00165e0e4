import type { VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { refuseViews, sourceTable, type Operation, type PlanContext } from './operation';

/** The new version stops seeing the table at expand; it is dropped for real at contract. */
export class DropTable implements Operation {
  readonly kind = 'dropTable';

  constructor(readonly table: string) {}

  describe(): string {
    return `drop table ${this.table}`;
  }

  validate(ctx: PlanContext): void {
    const breaks = ctx.dialect.capabilities.viewsHoldColumns
      ? `${ctx.dialect.displayName} would refuse to drop the table at contract`
      : 'it would fail once contract drops the table';
    refuseViews(ctx, `dropTable ${this.table}`, ctx.model.table(sourceTable(ctx, this.table))!, breaks);
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
