import type { ColumnSpec, CreateTableSpec } from '../migration/types';
import type { TableModel, VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { ValidationError } from '../errors';
import { checkColumnSpec, checkIdentifier } from './checks';
import { requireNoTable, type Operation, type PlanContext } from './operation';

/** A new table: created at expand, dropped at rollback, nothing to do at contract. */
export class CreateTable implements Operation {
  readonly kind = 'createTable';

  constructor(
    readonly table: string,
    readonly spec: CreateTableSpec,
  ) {}

  describe(): string {
    return `create table ${this.table}`;
  }

  validate(ctx: PlanContext): void {
    checkIdentifier(ctx.dialect, ctx.migration, 'table name', this.table);
    requireNoTable(ctx, this.table);
    const columns = Object.entries(this.spec?.columns ?? {});
    if (columns.length === 0) {
      throw new ValidationError(ctx.migration, `createTable ${JSON.stringify(this.table)} needs at least one column`);
    }
    for (const [name, spec] of columns) {
      checkIdentifier(ctx.dialect, ctx.migration, 'column name', name);
      checkColumnSpec(ctx.dialect, ctx.migration, `${this.table}.${name}`, spec);
    }
    const flagged = columns.filter(([, spec]) => spec.primaryKey).map(([name]) => name);
    if (this.spec.primaryKey && flagged.length > 0) {
      throw new ValidationError(
        ctx.migration,
        `createTable ${JSON.stringify(this.table)}: give the primary key either as primaryKey: [...] or on columns, not both`,
      );
    }
    for (const name of this.primaryKey()) {
      if (!columns.some(([c]) => ctx.dialect.rules.sameColumn(c, name))) {
        throw new ValidationError(
          ctx.migration,
          `createTable ${JSON.stringify(this.table)}: primary key column ${JSON.stringify(name)} is not one of its columns`,
        );
      }
    }
  }

  expand(ctx: PlanContext): Step[] {
    ctx.model.addTable(this.model());
    return [ctx.dialect.createTable(this.table, this.spec.columns, this.primaryKey())];
  }

  contract(): Step[] {
    return [];
  }

  rollback(ctx: PlanContext): Step[] {
    ctx.model.removeTable(this.table);
    return [ctx.dialect.dropTable(this.table)];
  }

  shapeView(view: VersionView): void {
    if (view.table(this.table)) return;
    view.addTable({
      name: this.table,
      source: this.table,
      columns: Object.keys(this.spec.columns).map((name) => ({ name, source: name })),
    });
  }

  private primaryKey(): string[] {
    if (this.spec.primaryKey) return this.spec.primaryKey;
    return Object.entries(this.spec.columns)
      .filter(([, spec]) => spec.primaryKey)
      .map(([name]) => name);
  }

  private model(): TableModel {
    const pk = this.primaryKey();
    return {
      name: this.table,
      columns: Object.entries(this.spec.columns).map(([name, spec]: [string, ColumnSpec]) => ({
        name,
        type: spec.type,
        nullable: spec.nullable !== false && !pk.includes(name),
        default: spec.default ?? null,
        invisible: false,
      })),
      primaryKey: pk,
      indexes: [],
    };
  }
}
