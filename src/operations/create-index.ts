import type { CreateIndexSpec } from '../migration/types';
import type { Step } from '../engine/step';
import { ValidationError } from '../errors';
import { checkIdentifier, checkSqlFragment } from './checks';
import { defaultName, dropBuiltIndex, indexNameTaken, requireColumn, sourceTable, type Operation, type PlanContext } from './operation';

/** An index built without blocking writes at expand; rollback drops it. */
export class CreateIndex implements Operation {
  readonly kind = 'createIndex';

  constructor(
    readonly table: string,
    readonly columns: string[],
    readonly spec: CreateIndexSpec = {},
  ) {}

  /** The WHERE alone: the key columns are read through the version's view (an altered column's new one). */
  namesColumnsOf(): Array<{ table: string; sql: string }> {
    return this.spec.where === undefined ? [] : [{ table: this.table, sql: this.spec.where }];
  }

  describe(): string {
    return `create ${this.spec.unique ? 'unique ' : ''}index ${this.spec.name ?? ''} on ${this.table} (${this.columns.join(', ')})`.replace(
      '  ',
      ' ',
    );
  }

  validate(ctx: PlanContext): void {
    if (!Array.isArray(this.columns) || this.columns.length === 0) {
      throw new ValidationError(ctx.migration, `createIndex on ${JSON.stringify(this.table)} needs a non-empty list of columns`);
    }
    for (const column of this.columns) requireColumn(ctx, this.table, column);
    const name = checkIdentifier(ctx.dialect, ctx.migration, 'index name', this.indexName(ctx));
    if (indexNameTaken(ctx, sourceTable(ctx, this.table), name)) {
      throw new ValidationError(ctx.migration, `index ${JSON.stringify(name)} already exists`);
    }
    if (this.spec.where !== undefined) {
      if (!ctx.dialect.capabilities.partialIndexes) {
        throw new ValidationError(
          ctx.migration,
          `createIndex ${JSON.stringify(name)}: ${ctx.dialect.displayName} has no partial indexes ('where')`,
        );
      }
      checkSqlFragment(ctx.dialect, ctx.migration, `createIndex ${name}: where`, this.spec.where);
    }
  }

  expand(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const columns = this.columns.map((c) => ctx.view.column(this.table, c)!.source);
    const name = this.indexName(ctx);
    ctx.model.table(source)!.indexes.push({ name, columns, unique: this.spec.unique === true });
    return [ctx.dialect.createIndex(source, { name, columns, unique: this.spec.unique === true, where: this.spec.where })];
  }

  contract(): Step[] {
    return [];
  }

  rollback(ctx: PlanContext): Step[] {
    return dropBuiltIndex(ctx, this.table, this.indexName(ctx));
  }

  shapeView(): void {}

  /** The given name, or `<table>_<columns>_idx`, shortened with a hash when too long for the engine. */
  indexName(ctx: PlanContext): string {
    return this.spec.name ?? defaultName(ctx, this.table, this.columns, this.spec.unique ? 'key' : 'idx');
  }
}
