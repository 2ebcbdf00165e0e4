import type { AddForeignKeySpec, ForeignKeyAction } from '../migration/types';
import { isForeignKeyEnd, servedByIndex, type VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import type { VerifySpec } from '../engine/dual-write';
import { FOREIGN_KEY_ACTIONS } from '../dialects/dialect';
import { StateError, ValidationError } from '../errors';
import { checkIdentifier } from './checks';
import { chooseWalkKey, missingWalkKey } from '../engine/walk-key';
import {
  defaultName,
  refuseTakenConstraintName,
  requireColumn,
  sourceTable,
  type DualWrite,
  type DualWriteContext,
  type Operation,
  type PlanContext,
} from './operation';

/**
 * A foreign key that takes no long lock, then is validated.
 *
 * PostgreSQL: ADD CONSTRAINT … NOT VALID at expand (a short lock on both
 * tables, no scan; new writes are checked from then on), VALIDATE CONSTRAINT
 * at contract (a scan that does not block writes).
 *
 * MySQL/MariaDB have no NOT VALID. With foreign_key_checks on, InnoDB adds a
 * foreign key only with ALGORITHM=COPY, which rebuilds the table under
 * LOCK=SHARED: the apps' writes wait for the whole copy. With
 * foreign_key_checks off for that one statement it is ALGORITHM=INPLACE,
 * LOCK=NONE (a metadata change; zmigrate first builds online the index
 * InnoDB needs on the columns, when none serves), but the rows already there
 * are not checked. So zmigrate does that, and checks them itself: after the key
 * is in place (every later write is checked by the server), a chunked scan
 * along the table's walk key (chooseWalkKey) looks for rows whose parent is missing. Any found stop
 * expand, naming their keys; fix them and run expand again, or roll back.
 * The same scan runs on PostgreSQL too, so bad rows show at expand rather
 * than failing the VALIDATE at contract.
 */
export class AddForeignKey implements Operation {
  readonly kind = 'addForeignKey';

  constructor(
    readonly table: string,
    readonly columns: string[],
    readonly spec: AddForeignKeySpec,
  ) {}

  /** The ON DELETE action in zmigrate's spelling (lower case), whichever case the migration wrote it in. */
  private get onDelete(): ForeignKeyAction | undefined {
    const value: unknown = this.spec?.onDelete;
    return typeof value === 'string' ? (value.toLowerCase() as ForeignKeyAction) : undefined;
  }

  describe(): string {
    const refs = this.spec?.references;
    return `add foreign key ${this.table} (${Array.isArray(this.columns) ? this.columns.join(', ') : ''}) references ${refs?.table} (${Array.isArray(refs?.columns) ? refs.columns.join(', ') : ''})`;
  }

  validate(ctx: PlanContext): void {
    const what = `addForeignKey on ${JSON.stringify(this.table)}`;
    if (!Array.isArray(this.columns) || this.columns.length === 0) {
      throw new ValidationError(ctx.migration, `${what} needs a non-empty list of columns`);
    }
    const refs = this.spec?.references;
    if (
      typeof this.spec !== 'object' ||
      this.spec === null ||
      typeof refs !== 'object' ||
      refs === null ||
      typeof refs.table !== 'string' ||
      !Array.isArray(refs.columns)
    ) {
      throw new ValidationError(ctx.migration, `${what} needs { references: { table: 'customers', columns: ['id'] } }`);
    }
    if (refs.columns.length !== this.columns.length) {
      throw new ValidationError(ctx.migration, `${what}: ${this.columns.length} column(s) cannot reference ${refs.columns.length}`);
    }
    for (const column of this.columns) requireColumn(ctx, this.table, column);
    for (const column of refs.columns) requireColumn(ctx, refs.table, column);
    const source = sourceTable(ctx, this.table);
    const columns = this.physicalColumns(ctx);
    if (new Set(columns).size !== columns.length) throw new ValidationError(ctx.migration, `${what} names a column twice`);

    const target = ctx.model.table(sourceTable(ctx, refs.table))!;
    const referenced = this.referencedColumns(ctx);
    const sameSet = (a: string[]) =>
      a.length === referenced.length && referenced.every((c) => a.some((k) => ctx.model.rules.sameColumn(k, c)));
    if (!sameSet(target.primaryKey) && !target.indexes.some((i) => i.unique && !i.special && sameSet(i.columns))) {
      throw new ValidationError(
        ctx.migration,
        `${what}: ${refs.table} (${refs.columns.join(', ')}) is neither its primary key nor covered by a unique index`,
        {
          hint: 'a foreign key must reference a primary key or unique columns; add one first (op.addUnique in an earlier migration)',
        },
      );
    }

    const name = checkIdentifier(ctx.dialect, ctx.migration, 'foreign key name', this.constraintName(ctx));
    // MySQL/MariaDB name the index they make for the key after it, and rollback drops an index of that name.
    if (ctx.model.table(source)!.indexes.some((i) => ctx.model.rules.sameColumn(i.name, name))) {
      throw new ValidationError(
        ctx.migration,
        `${what}: an index named ${JSON.stringify(name)} already exists on ${this.table}; give the foreign key another name`,
      );
    }
    refuseTakenConstraintName(ctx, what, source, name, 'foreign key');
    if (this.spec.onDelete !== undefined) {
      const action = this.onDelete;
      if (action === undefined || !Object.hasOwn(FOREIGN_KEY_ACTIONS, action)) {
        throw new ValidationError(
          ctx.migration,
          `${what}: onDelete must be one of ${Object.keys(FOREIGN_KEY_ACTIONS)
            .map((a) => `'${a}'`)
            .join(', ')}`,
        );
      }
      const notNull = columns.filter((c) => ctx.model.column(source, c)?.nullable === false);
      if (action === 'set null' && notNull.length > 0) {
        throw new ValidationError(ctx.migration, `${what}: onDelete 'set null' on NOT NULL column(s) ${notNull.join(', ')}`);
      }
    }
    const model = ctx.model.table(source)!;
    if (!ctx.dialect.capabilities.notValidConstraints && !chooseWalkKey(model, ctx.dialect.rowAddress !== undefined)) {
      const missing = missingWalkKey(model);
      throw new ValidationError(
        ctx.migration,
        `${what}: the table ${missing.reason}, which zmigrate needs to check its existing rows in chunks (${ctx.dialect.displayName} cannot add a foreign key that checks them without blocking writes)`,
        { hint: missing.hint },
      );
    }
  }

  expand(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const name = this.constraintName(ctx);
    const columns = this.physicalColumns(ctx);
    const steps: Step[] = [];
    const table = ctx.model.table(source)!;
    if (ctx.dialect.capabilities.foreignKeyIndex && !servedByIndex(ctx.model.rules, table, columns)) {
      table.indexes.push({ name, columns, unique: false });
      steps.push(ctx.dialect.createIndex(source, { name, columns, unique: false }));
    }
    const parent = sourceTable(ctx, this.spec.references.table);
    const referenced = this.referencedColumns(ctx);
    steps.push(
      ctx.dialect.addForeignKey(source, {
        name,
        columns,
        references: { table: parent, columns: referenced },
        onDelete: this.onDelete,
      }),
    );
    // Later migrations of the same run see the key at both ends (alterColumn carries it over, or refuses).
    const references = { table: parent, columns: referenced, ...(this.onDelete ? { onDelete: this.onDelete } : {}) };
    table.constraints?.push({ kind: 'foreign key', name, columns, references });
    ctx.model.table(parent)?.constraints?.push({ kind: 'foreign key', name, from: source, columns: referenced });
    return steps;
  }

  contract(ctx: PlanContext): Step[] {
    return ctx.dialect.validateConstraint ? [ctx.dialect.validateConstraint(sourceTable(ctx, this.table), this.constraintName(ctx))] : [];
  }

  rollback(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const name = this.constraintName(ctx);
    const table = ctx.model.table(source);
    if (table) table.indexes = table.indexes.filter((i) => i.name !== name);
    // The key at both ends: on this table, and on the table it references (`from` this one).
    for (const t of ctx.model.tables) t.constraints = t.constraints?.filter((c) => !isForeignKeyEnd(c, name, t, source));
    return ctx.dialect.dropForeignKey(source, name);
  }

  shapeView(): void {}

  /** The scan for rows whose parent is missing; it runs after the key is in place (and after any backfill). */
  dualWrite(ctx: DualWriteContext): DualWrite | undefined {
    const child = resolve(ctx, this.table, this.columns);
    const parent = resolve(ctx, this.spec.references.table, this.spec.references.columns);
    const what = `${this.table} (${this.columns.join(', ')}) references ${this.spec.references.table} (${this.spec.references.columns.join(', ')})`;
    const verify = orphanCheck(ctx, child, parent, what);
    if (!verify) return undefined; // validate refused it
    return { table: child.table, rules: [], backfill: [], verify: [verify] };
  }

  constraintName(ctx: PlanContext): string {
    return this.spec.name ?? defaultName(ctx, this.table, this.columns, 'fkey');
  }

  private physicalColumns(ctx: PlanContext): string[] {
    return this.columns.map((c) => ctx.view.column(this.table, c)!.source);
  }

  private referencedColumns(ctx: PlanContext): string[] {
    return this.spec.references.columns.map((c) => ctx.view.column(this.spec.references.table, c)!.source);
  }
}

/**
 * The scan for rows of `child` whose parent row is missing, along the
 * table's walk key; undefined for a table without one. MATCH SIMPLE, as
 * both engines enforce it: a row with a NULL in the key references nothing.
 */
export function orphanCheck(
  ctx: Pick<DualWriteContext, 'dialect' | 'model'>,
  child: { table: string; columns: string[] },
  parent: { table: string; columns: string[] },
  what: string,
): VerifySpec | undefined {
  const model = ctx.model.table(child.table);
  const key = model && chooseWalkKey(model, ctx.dialect.rowAddress !== undefined);
  if (!key) return undefined;
  const q = (name: string) => ctx.dialect.quote(name);
  const outer = ctx.dialect.qualify(ctx.dialect.baseSchema, child.table);
  const match = child.columns.map((c, i) => `_zm_parent.${q(parent.columns[i])} = ${outer}.${q(c)}`).join(' AND ');
  const present = child.columns.map((c) => `${outer}.${q(c)} IS NOT NULL`).join(' AND ');
  return {
    table: child.table,
    key,
    what,
    mismatch: `${present} AND NOT EXISTS (SELECT 1 FROM ${ctx.dialect.qualify(ctx.dialect.baseSchema, parent.table)} AS _zm_parent WHERE ${match})`,
  };
}

/**
 * The physical table and columns behind names as this operation saw them:
 * the version before the migration, or, for what an earlier operation of the
 * same migration created or renamed, the version after it.
 */
export function resolve(ctx: DualWriteContext, table: string, columns: string[]): { table: string; columns: string[] } {
  const pick = (view: VersionView) => {
    const t = view.table(table);
    if (!t) return undefined;
    const sources = columns.map((c) => view.column(table, c)?.source);
    return sources.every((s): s is string => s !== undefined) ? { table: t.source, columns: sources } : undefined;
  };
  const found = pick(ctx.previous) ?? pick(ctx.next);
  if (!found) {
    throw new StateError(
      `cannot tell which physical columns ${table} (${columns.join(', ')}) are: a later operation of the same migration renames them`,
      {
        hint: 'put the constraint and the rename in migrations of their own',
      },
    );
  }
  return found;
}
