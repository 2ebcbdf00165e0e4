import type { AlterColumnSpec } from '../migration/types';
import { describeConstraint, type ColumnModel, type ConstraintModel, type IndexModel } from '../engine/schema-model';
import { ValidationError } from '../errors';
import type { CarriedConstraints } from './carried-constraints';
import { refuseReaders, type PlanContext } from './operation';

/** An index alterColumn builds again on the new column: the primary key is one too, where the column is in it. */
export type RebuiltIndex = IndexModel & { primary?: boolean };

/** The column alterColumn would replace, and what it would build again, as the refusals look at them. */
export interface AlteredColumn {
  /** `alterColumn orders.amount`, to open messages. */
  what: string;
  spec: AlterColumnSpec;
  source: string;
  physical: string;
  old: ColumnModel;
  /** The new column's type as it would be written. */
  finalType: string;
  primaryKeyName?: string;
  /** The indexes that use the column, the primary key's first where it is in it. */
  indexes: RebuiltIndex[];
  carried: CarriedConstraints;
  /** An index's definition on the new column, where it has one and it can be written (else undefined). */
  rebuilt(index: IndexModel): string | undefined;
}

/**
 * What alterColumn cannot do online, refused before anything changes: each
 * of these would otherwise fail at contract, after the deploy, or lose what
 * the column had.
 */
export function refuseAlteration(ctx: PlanContext, column: AlteredColumn): void {
  refusePrimaryKey(ctx, column);
  refuseNumbering(ctx, column);
  refuseHolders(ctx, column);
  refuseConstraints(ctx, column);
  refuseKeyTypes(ctx, column);
  refuseIndexes(ctx, column);
}

/**
 * An index over the column that could not be built again on the new column
 * as it is: one whose definition cannot be rewritten for it with certainty
 * (PostgreSQL), or one the engine cannot build without blocking writes
 * (a FULLTEXT or SPATIAL index on MySQL/MariaDB). Rebuilt as something
 * else, it would change what the table allows or how it is searched.
 */
function refuseIndexes(ctx: PlanContext, { what, spec, indexes, rebuilt }: AlteredColumn): void {
  const hint = 'drop it in an earlier migration and create it again after this one';
  for (const index of indexes) {
    const name = JSON.stringify(index.name);
    // The rebuilt index takes the replica identity at contract, which PostgreSQL gives only an index over NOT NULL columns.
    if (index.replicaIdentity && spec.nullable === true) {
      throw new ValidationError(
        ctx.migration,
        `${what}: ${index.primary ? 'the primary key' : `index ${name}`} is the table's replica identity, whose columns stay NOT NULL`,
        { hint: 'leave out nullable, or give the table another replica identity first (ALTER TABLE … REPLICA IDENTITY)' },
      );
    }
    // The new column's index is a plain unique index until contract: it checks each row at once.
    if (index.deferrable) {
      throw new ValidationError(
        ctx.migration,
        `${what}: ${index.primary ? 'the primary key' : `index ${name}`} is DEFERRABLE, and the new column's index would check each row at once while the migration is live, failing statements the constraint lets through (SET pos = pos + 1)`,
        { hint: 'make the constraint NOT DEFERRABLE in an earlier migration (op.sql), or keep the column' },
      );
    }
    if (index.constraint && !index.unique) {
      throw new ValidationError(
        ctx.migration,
        `${what}: index ${name} is an exclusion constraint's, which ${ctx.dialect.displayName} cannot attach to an index built beforehand`,
        { hint: 'drop the constraint in an earlier migration and add it again after this one' },
      );
    }
    if (index.special && rebuilt(index) === undefined) {
      throw new ValidationError(
        ctx.migration,
        `${what}: index ${name} is partial or over expressions and cannot be carried over to the new column`,
        {
          hint,
        },
      );
    }
    if (index.definition !== undefined && rebuilt(index) === undefined) {
      throw new ValidationError(
        ctx.migration,
        `${what}: index ${name} names the column with a word its definition also uses for something else, so it cannot be carried over to the new column`,
        { hint },
      );
    }
    const why = ctx.dialect.indexNotOnline?.(index);
    if (why) throw new ValidationError(ctx.migration, `${what}: index ${name} cannot be carried over to the new column: ${why}`, { hint });
  }
}

/**
 * A primary-key column: its key is built again over the new column (as a
 * unique index at expand, made the primary key in the swap) where the
 * dialect can attach one to an index; it stays NOT NULL.
 */
function refusePrimaryKey(ctx: PlanContext, { what, spec, indexes, primaryKeyName }: AlteredColumn): void {
  if (!indexes.some((i) => i.primary)) return;
  if (!ctx.dialect.attachPrimaryKey || !primaryKeyName) {
    throw new ValidationError(
      ctx.migration,
      `${what}: the column is part of the primary key, which zmigrate does not rebuild online on ${ctx.dialect.displayName}`,
      { hint: 'leave the key column as it is (a tool that swaps the whole table in one cut-over, such as gh-ost, can change its type)' },
    );
  }
  if (spec.nullable === true) {
    throw new ValidationError(ctx.migration, `${what}: a primary-key column stays NOT NULL`, { hint: 'leave out nullable' });
  }
}

/**
 * What uses the column and would stop the contract that replaces it: on
 * PostgreSQL a view, trigger, generated column, policy, publication or
 * function with a SQL-standard body (the old column cannot be dropped while
 * one stays); on MySQL/MariaDB a generated column (no online swap then),
 * while views and triggers find the new column under the old name. Checked
 * at expand, and again at contract (`atContract`) for what came since.
 */
export function refuseHolders(ctx: PlanContext, { what, old }: Pick<AlteredColumn, 'what' | 'old'>, atContract = false): void {
  const db = ctx.dialect.displayName;
  if (ctx.dialect.capabilities.viewsHoldColumns) {
    // A trigger function's body finds the new column under the old name (sessions recompile it at contract).
    const holders = old.holders?.filter((h) => h.kind !== 'trigger function');
    refuseReaders(ctx, what, { views: old.views, holders }, `${db} would refuse to drop the old column at contract`, atContract);
    return;
  }
  const generated = old.holders?.filter((h) => h.kind === 'generated column');
  refuseReaders(ctx, what, { holders: generated }, `${db} cannot swap the column in online at contract`, atContract);
}

/**
 * A column whose values the engine makes: a generated column has none of
 * its own to map; an identity (or AUTO_INCREMENT) column's numbering moves
 * to the new column only where the dialect can move it, and only to an
 * integer NOT NULL column without a default.
 */
function refuseNumbering(ctx: PlanContext, { what, spec, old }: AlteredColumn): void {
  const refuse = (why: string, hint: string) => {
    throw new ValidationError(ctx.migration, `${what}: ${why}`, { hint });
  };
  if (old.generated) refuse('the column is generated by the engine, so there is nothing to map', 'change its expression with op.sql');
  if (!old.identity) return;
  const hint = 'leave the column as it is, or add a new column beside it (op.addColumn) and move the app to it';
  if (!ctx.dialect.capabilities.movesIdentity)
    refuse(`${ctx.dialect.displayName} cannot hand an AUTO_INCREMENT column's numbering over to a new column online`, hint);
  if (spec.nullable === true || spec.default !== undefined)
    refuse('an identity column stays NOT NULL and without a default', 'leave out nullable and default');
  if (spec.type !== undefined && !/^\s*(smallint|integer|int|bigint|int2|int4|int8)\s*$/i.test(spec.type))
    refuse(`an identity column must stay an integer (smallint, integer or bigint), not ${spec.type}`, hint);
}

/**
 * The constraints on the column that the dialect cannot carry over to the
 * new column (see CarriedConstraints): PostgreSQL would drop them with the
 * old column at contract, and MySQL/MariaDB would refuse to drop it. So
 * they are refused up front.
 */
function refuseConstraints(ctx: PlanContext, { what, source, physical, carried }: AlteredColumn): void {
  const uses = (c: ConstraintModel) => c.columns.some((k) => ctx.dialect.rules.sameColumn(k, physical));
  const constraints = ctx.model.table(source)!.constraints ?? [];
  // A key whose other end an earlier operation of the run alters is being built again already, under the name a copy would take.
  const rebuilt = constraints.find((c) => c.name.startsWith('_zm_') && uses(c));
  if (rebuilt) {
    throw new ValidationError(
      ctx.migration,
      `${what}: an earlier operation of this migration builds ${describeConstraint(rebuilt)} on the column again, for the other end of the key`,
      { hint: 'alter the two ends of a foreign key in separate migrations, the referenced column first' },
    );
  }
  const bound = constraints.find((c) => !carried.includes(c) && uses(c));
  if (bound) {
    throw new ValidationError(
      ctx.migration,
      `${what}: ${describeConstraint(bound)} uses the column, and zmigrate cannot carry it over to the new column yet`,
      { hint: 'drop it in an earlier migration (op.sql) and add it again in a later one (op.addForeignKey, op.addCheck)' },
    );
  }
}

/** A carried foreign key whose parent column the new type cannot reference, where the engine requires like types. */
function refuseKeyTypes(ctx: PlanContext, { what, physical, finalType, carried }: AlteredColumn): void {
  const match = ctx.dialect.keyTypesMatch?.bind(ctx.dialect);
  if (!match) return;
  for (const { key } of carried.keys) {
    const position = key.columns.findIndex((c) => ctx.dialect.rules.sameColumn(c, physical));
    const parent = key.references!;
    const parentType = ctx.model.column(parent.table, parent.columns[position])?.type;
    if (parentType === undefined || match(finalType, parentType)) continue;
    throw new ValidationError(
      ctx.migration,
      `${what}: ${describeConstraint(key)} references ${parent.table}.${parent.columns[position]} (${parentType}), which ${ctx.dialect.displayName} does not let a column of type ${finalType} reference`,
      { hint: 'keep a type the referenced column matches, or drop the key in an earlier migration and add it again in a later one' },
    );
  }
}
