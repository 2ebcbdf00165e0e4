import type { VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { sourceTable, type Operation, type PlanContext } from './operation';

/** The new version stops seeing the table at expand; it is dropped for real at contract. */
export class DropTable implements Operation {
  readonly kind = 'dropTable';

  constructor(readonly table: string) {}

  describe(): string {
    return `drop table ${this.table}`;
  }

  validate(ctx: PlanContext): void {
    sourceTable(ctx, this.table);
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
