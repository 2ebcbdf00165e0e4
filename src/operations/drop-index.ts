import { describeConstraint, servedByIndex, startsWith, type ConstraintModel, type IndexModel } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { ValidationError } from '../errors';
import { checkIdentifier } from './checks';
import { sourceTable, type Operation, type PlanContext } from './operation';

/**
 * Expand leaves the index alone, since the old app may still rely on it (a
 * query plan, a uniqueness it counts on); contract drops it without blocking
 * writes. Rollback has nothing to undo.
 */
export class DropIndex implements Operation {
  readonly kind = 'dropIndex';

  constructor(
    readonly table: string,
    readonly name: string,
  ) {}

  describe(): string {
    return `drop index ${this.name} on ${this.table}`;
  }

  validate(ctx: PlanContext): void {
    const source = sourceTable(ctx, this.table);
    checkIdentifier(ctx.dialect, ctx.migration, 'index name', this.name);
    const index = this.find(ctx, source);
    if (index) {
      const key = this.neededBy(ctx, source, index);
      if (key) {
        throw new ValidationError(
          ctx.migration,
          `index ${JSON.stringify(index.name)} on ${JSON.stringify(this.table)} is needed by ${describeConstraint(key)}`,
          {
            hint: ctx.dialect.capabilities.foreignKeyIndex
              ? 'create another index that starts with its columns first, or drop the foreign key in an earlier migration'
              : 'drop the foreign key in an earlier migration, or bind it to another unique index',
          },
        );
      }
      return;
    }
    const elsewhere = ctx.model.tables.find((t) => t.indexes.some((i) => ctx.model.rules.sameColumn(i.name, this.name)));
    throw new ValidationError(
      ctx.migration,
      elsewhere
        ? `index ${JSON.stringify(this.name)} is on table ${JSON.stringify(elsewhere.name)}, not on ${JSON.stringify(this.table)}`
        : `unknown index ${JSON.stringify(this.name)} on table ${JSON.stringify(this.table)}`,
      { hint: 'a primary key is not an index zmigrate drops' },
    );
  }

  expand(): Step[] {
    return [];
  }

  contract(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const index = this.find(ctx, source);
    const name = index?.name ?? this.name;
    const table = ctx.model.table(source);
    if (table) table.indexes = table.indexes.filter((i) => i !== index);
    // The index of a UNIQUE constraint (PostgreSQL) goes with its constraint: a short catalog lock, no scan.
    if (index?.constraint && ctx.dialect.dropConstraint) return [ctx.dialect.dropConstraint(source, name)];
    return [ctx.dialect.dropIndex(source, name)];
  }

  rollback(): Step[] {
    return [];
  }

  shapeView(): void {}

  /**
   * The foreign key the engine would refuse to drop the index under (found
   * at contract, with the migration half-contracted): on PostgreSQL a key of
   * another table bound to this unique index; on MySQL/MariaDB a key at
   * either end that no other index (or the primary key) starts with.
   */
  private neededBy(ctx: PlanContext, source: string, index: IndexModel): ConstraintModel | undefined {
    const table = ctx.model.table(source)!;
    const rules = ctx.model.rules;
    return table.constraints?.find((c) => {
      if (c.kind !== 'foreign key') return false;
      if (c.index !== undefined) return rules.sameColumn(c.index, index.name);
      if (!ctx.dialect.capabilities.foreignKeyIndex) return false;
      return startsWith(rules, index.columns, c.columns) && !servedByIndex(rules, table, c.columns, index);
    });
  }

  /** Index names compare as the engine compares them (case-insensitively on MySQL/MariaDB, like columns). */
  private find(ctx: PlanContext, source: string) {
    return ctx.model.table(source)?.indexes.find((i) => ctx.model.rules.sameColumn(i.name, this.name));
  }
}
