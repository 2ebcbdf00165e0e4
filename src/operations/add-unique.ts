import type { AddUniqueSpec } from '../migration/types';
import type { Step } from '../engine/step';
import { ValidationError } from '../errors';
import { checkIdentifier } from './checks';
import { defaultName, dropBuiltIndex, indexNameTaken, requireColumn, sourceTable, type Operation, type PlanContext } from './operation';

/**
 * A unique index built online at expand (CREATE UNIQUE INDEX CONCURRENTLY;
 * ALGORITHM=INPLACE, LOCK=NONE). Duplicates in the data make the build fail,
 * and PostgreSQL's invalid leftover is dropped at once (see the executor).
 * Contract makes it a UNIQUE constraint on PostgreSQL (no scan); on
 * MySQL/MariaDB a unique index is all a unique constraint is. Rollback drops it.
 */
export class AddUnique implements Operation {
  readonly kind = 'addUnique';

  constructor(
    readonly table: string,
    readonly columns: string[],
    readonly spec: AddUniqueSpec = {},
  ) {}

  describe(): string {
    return `add unique ${this.spec?.name ?? ''} on ${this.table} (${Array.isArray(this.columns) ? this.columns.join(', ') : ''})`.replace(
      '  ',
      ' ',
    );
  }

  validate(ctx: PlanContext): void {
    if (typeof this.spec !== 'object' || this.spec === null) {
      throw new ValidationError(
        ctx.migration,
        `addUnique on ${JSON.stringify(this.table)}: options must be an object like { name: 'orders_ref_key' }`,
      );
    }
    if (!Array.isArray(this.columns) || this.columns.length === 0) {
      throw new ValidationError(ctx.migration, `addUnique on ${JSON.stringify(this.table)} needs a non-empty list of columns`);
    }
    for (const column of this.columns) requireColumn(ctx, this.table, column);
    if (new Set(this.columns.map((c) => ctx.view.column(this.table, c)!.source)).size !== this.columns.length) {
      throw new ValidationError(ctx.migration, `addUnique on ${JSON.stringify(this.table)} names a column twice`);
    }
    const name = checkIdentifier(ctx.dialect, ctx.migration, 'unique constraint name', this.indexName(ctx));
    if (indexNameTaken(ctx, sourceTable(ctx, this.table), name))
      throw new ValidationError(ctx.migration, `index ${JSON.stringify(name)} already exists`);
  }

  expand(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const columns = this.columns.map((c) => ctx.view.column(this.table, c)!.source);
    const name = this.indexName(ctx);
    ctx.model.table(source)!.indexes.push({ name, columns, unique: true });
    const build = ctx.dialect.createIndex(source, { name, columns, unique: true });
    return [{ ...build, description: `build unique index ${name} on ${this.table} (${this.columns.join(', ')})` }];
  }

  contract(ctx: PlanContext): Step[] {
    if (!ctx.dialect.attachUniqueConstraint) return [];
    const source = sourceTable(ctx, this.table);
    const name = this.indexName(ctx);
    const index = ctx.model.table(source)?.indexes.find((i) => i.name === name);
    if (index) index.constraint = true;
    return [ctx.dialect.attachUniqueConstraint(source, name)];
  }

  rollback(ctx: PlanContext): Step[] {
    return dropBuiltIndex(ctx, this.table, this.indexName(ctx));
  }

  shapeView(): void {}

  /** The given name, or `<table>_<columns>_key`. */
  indexName(ctx: PlanContext): string {
    return this.spec?.name ?? defaultName(ctx, this.table, this.columns, 'key');
  }
}
