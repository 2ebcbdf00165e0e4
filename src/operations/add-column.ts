import type { AddColumnSpec } from '../migration/types';
import type { VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { ValidationError } from '../errors';
import { checkColumnSpec, checkIdentifier } from './checks';
import { requireTable, sourceTable, type Operation, type PlanContext } from './operation';

/**
 * A new column. At expand it is added so the old app does not notice it
 * (INVISIBLE where the engine has that); at contract it becomes an ordinary
 * column; rollback drops it.
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
      throw new ValidationError(ctx.migration, `column ${JSON.stringify(this.column)} already exists in table ${JSON.stringify(this.table)}`);
    }
    if (this.spec.up !== undefined) {
      throw new ValidationError(ctx.migration, `addColumn ${this.table}.${this.column}: 'up' (dual-write backfill) is not supported by this version of zmigrate`, {
        hint: 'add the column with a default, or fill it with op.sql in a later migration',
      });
    }
    if (this.spec.primaryKey || this.spec.unique) {
      throw new ValidationError(ctx.migration, `addColumn ${this.table}.${this.column}: primaryKey/unique would build an index under a lock`, {
        hint: 'add the column, then op.createIndex(..., { unique: true })',
      });
    }
    if (this.spec.nullable === false && this.spec.default === undefined) {
      throw new ValidationError(ctx.migration, `addColumn ${this.table}.${this.column}: a NOT NULL column needs a default, or the old app's inserts would fail`, {
        hint: "give it a default (default: '0'), or add it nullable and use op.setNotNull later",
      });
    }
  }

  expand(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const invisible = ctx.dialect.capabilities.invisibleColumns;
    ctx.model.table(source)!.columns.push({
      name: this.column,
      type: this.spec.type,
      nullable: this.spec.nullable !== false,
      default: this.spec.default ?? null,
      invisible,
    });
    return [ctx.dialect.addColumn(source, this.column, this.spec, { invisible })];
  }

  contract(ctx: PlanContext): Step[] {
    const column = ctx.model.column(sourceTable(ctx, this.table), this.column);
    if (!column?.invisible || !ctx.dialect.setColumnVisible) return [];
    column.invisible = false;
    return [ctx.dialect.setColumnVisible(sourceTable(ctx, this.table), this.column, this.spec)];
  }

  rollback(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const table = ctx.model.table(source)!;
    table.columns = table.columns.filter((c) => !ctx.dialect.rules.sameColumn(c.name, this.column));
    return [ctx.dialect.dropColumn(source, this.column)];
  }

  shapeView(view: VersionView): void {
    view.table(this.table)?.columns.push({ name: this.column, source: this.column });
  }

}
