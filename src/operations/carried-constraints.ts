import type { Dialect, ForeignKeyDefinition } from '../dialects/dialect';
import { helperColumn, type VerifySpec } from '../engine/dual-write';
import { isForeignKeyEnd, type ConstraintModel, type ForeignKeyReference, type SchemaModel, type TableModel } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { orphanCheck } from './add-foreign-key';
import { chooseWalkKey } from '../engine/walk-key';
import { walkKeyOf } from './operation';

/** The column alterColumn replaces: its table and name, the new column beside it, and how messages name it. */
export interface ReplacedColumn {
  source: string;
  physical: string;
  helper: string;
  /** `orders.amount`, as the migration names it. */
  label: string;
  /** The NOT NULL check alterColumn may add on the new column, whose name a carried check must not take. */
  notNullCheck: string;
}

type ShadowKey = ConstraintModel & { references: ForeignKeyReference };
type ShadowCheck = ConstraintModel & { expression: string };

/**
 * The constraints of a column that alterColumn builds again on the new
 * column, each under the name `_zm_<name>`: the column's own foreign keys,
 * where the dialect can rename one; its checks, where it can rewrite a
 * condition for the new column; and foreign keys of other tables to it,
 * where it can rename a constraint (the last two PostgreSQL); only those it
 * can write again the same (ConstraintModel.references, .expression). Each is added after
 * the backfill, once a chunked scan found no new value that breaks it, the
 * way op.addForeignKey and op.addCheck add one (no scan under a lock);
 * validated at contract where the engine can, before the old column goes
 * with the old ones; then renamed to the old names.
 */
export class CarriedConstraints {
  readonly keys: Array<{ key: ConstraintModel; shadow: ShadowKey }>;
  readonly checks: Array<{ check: ConstraintModel; shadow: ShadowCheck }>;
  /**
   * Foreign keys of other tables to the column (PostgreSQL): built again on
   * the child table to reference the new column, which its rebuilt unique
   * index serves; `mark` is the key's entry on this table, `index` the
   * unique index it is bound to.
   */
  readonly referencing: Array<{ child: string; key: ConstraintModel; mark: ConstraintModel; shadow: ShadowKey; index: string }>;

  constructor(
    private readonly dialect: Dialect,
    model: SchemaModel,
    private readonly column: ReplacedColumn,
  ) {
    const { source, physical, helper } = column;
    const uses = (c: ConstraintModel) => c.columns.some((k) => dialect.rules.sameColumn(k, physical));
    const onHelper = (columns: string[]) => columns.map((c) => (c === physical ? helper : c));
    const constraints = model.table(source)?.constraints ?? [];
    this.keys = !dialect.renameForeignKey
      ? []
      : constraints
          .filter((c) => c.kind === 'foreign key' && c.from === undefined && c.references !== undefined && uses(c))
          .map((key) => ({
            key,
            shadow: { kind: 'foreign key', name: helperColumn(key.name), columns: onHelper(key.columns), references: key.references! },
          }));
    const rewrites = dialect.rewriteColumn && dialect.renameConstraint && dialect.addCheck && dialect.validateConstraint;
    this.checks = !rewrites
      ? []
      : constraints.flatMap((check) => {
          if (check.kind !== 'check' || check.expression === undefined || !uses(check)) return [];
          const expression = dialect.rewriteColumn!(check.expression, physical, helper);
          const name = helperColumn(check.name);
          if (expression === undefined || name === column.notNullCheck) return [];
          return [{ check, shadow: { kind: 'check' as const, name, columns: onHelper(check.columns), expression } }];
        });
    const repoints = dialect.renameConstraint && dialect.validateConstraint && dialect.dropConstraint;
    const table = model.table(source);
    this.referencing =
      !repoints || !table
        ? []
        : constraints.flatMap((mark) => {
            if (mark.kind !== 'foreign key' || mark.from === undefined || mark.from === source || !uses(mark)) return [];
            const child = model.table(mark.from);
            const key = child?.constraints?.find((c) => c.kind === 'foreign key' && c.from === undefined && c.name === mark.name);
            // Written again the same, walked for its orphans, and served on the new column by a rebuilt unique index.
            if (!child || !key?.references || key.references.table !== source || !chooseWalkKey(child, dialect.rowAddress !== undefined))
              return [];
            const same = (columns: string[]) =>
              columns.length === key.references!.columns.length && columns.every((c) => key.references!.columns.includes(c));
            // The primary key is rebuilt as a unique index too, where alterColumn can attach it again.
            const primary = same(table.primaryKey) && dialect.attachPrimaryKey ? table.primaryKeyName : undefined;
            const index = primary ?? table.indexes.find((i) => i.unique && !i.special && same(i.columns))?.name;
            if (!index) return [];
            const references = { ...key.references, columns: onHelper(key.references.columns) };
            const shadow: ShadowKey = { kind: 'foreign key', name: helperColumn(key.name), columns: key.columns, references };
            return [{ child: mark.from, key, mark, shadow, index }];
          });
  }

  /** Whether `c` is one of the constraints carried over (validate refuses the others on the column). */
  includes(c: ConstraintModel): boolean {
    return (
      this.keys.some(({ key }) => key === c) ||
      this.checks.some(({ check }) => check === c) ||
      this.referencing.some(({ mark }) => mark === c)
    );
  }

  /** At expand, in the model: the new constraints, which later migrations of the same run see (a key at both ends). */
  expand(model: SchemaModel): void {
    const table = model.table(this.column.source)!;
    for (const { shadow } of this.checks) table.constraints?.push(shadow);
    this.#expandReferencing(model);
    for (const { shadow } of this.keys) {
      table.constraints?.push(shadow);
      model.table(shadow.references.table)?.constraints?.push({
        kind: 'foreign key',
        name: shadow.name,
        from: this.column.source,
        columns: shadow.references.columns,
      });
    }
  }

  /** At expand, in the model: the keys of other tables on the new column, at both ends. */
  #expandReferencing(model: SchemaModel): void {
    for (const { child, shadow, index } of this.referencing) {
      model.table(child)?.constraints?.push(shadow);
      model.table(this.column.source)!.constraints?.push({
        kind: 'foreign key',
        name: shadow.name,
        from: child,
        columns: shadow.references.columns,
        index: helperColumn(index),
      });
    }
  }

  /** After the backfill: the scan for rows each new constraint would reject, which runs with the verification, and the constraint. */
  afterBackfill(ctx: { dialect: Dialect; model: SchemaModel }): { verify: VerifySpec[]; add: Step[] } {
    const { source, label } = this.column;
    const verify: VerifySpec[] = [];
    const add: Step[] = [];
    for (const { key, shadow } of this.keys) {
      const what = `${label} (new) of foreign key ${JSON.stringify(key.name)} references ${shadow.references.table} (${shadow.references.columns.join(', ')})`;
      const scan = orphanCheck(ctx, { table: source, columns: shadow.columns }, shadow.references, what);
      // alterColumn requires a walk key of its table (requireWalkKey), which the scan walks.
      if (!scan) throw new Error(`${label}: no key to walk ${source} by`);
      verify.push(scan);
      add.push(this.dialect.addForeignKey(source, definition(shadow.name, shadow.columns, shadow.references)));
    }
    for (const { child, key, shadow } of this.referencing) {
      const what = `${key.columns.join(', ')} of ${child} (foreign key ${JSON.stringify(key.name)}) references ${label} (new)`;
      const scan = orphanCheck(ctx, { table: child, columns: key.columns }, shadow.references, what);
      if (!scan) throw new Error(`${child}: no key to walk it by`); // the constructor made sure of one
      verify.push(scan);
      add.push(this.dialect.addForeignKey(child, definition(shadow.name, shadow.columns, shadow.references)));
    }
    const key = this.checks.length > 0 ? walkKeyOf(ctx, source) : undefined;
    for (const { check, shadow } of this.checks) {
      // A check holds unless its condition is false (NULL passes).
      verify.push({
        table: source,
        key: key!,
        what: `${label} (new) meets check ${JSON.stringify(check.name)}`,
        mismatch: `(${shadow.expression}) IS FALSE`,
      });
      add.push(this.dialect.addCheck!(source, shadow.name, shadow.expression));
    }
    return { verify, add };
  }

  /** The old foreign keys, which go with the old column (named where the engine does not drop them by itself). */
  get oldKeys(): string[] {
    return this.keys.map(({ key }) => key.name);
  }

  /** At contract, before the swap: the new constraints validated, a scan that takes no lock writes wait for. */
  validations(): Step[] {
    const validate = this.dialect.validateConstraint?.bind(this.dialect);
    if (!validate) return [];
    return [
      ...[...this.keys, ...this.checks].map(({ shadow }) => validate(this.column.source, shadow.name)),
      ...this.referencing.map(({ child, shadow }) => validate(child, shadow.name)),
    ];
  }

  /** At contract, in the swap before the old column goes: the old keys of other tables to it, which its unique index serves. */
  dropsBeforeSwap(): Step[] {
    return this.referencing.map(({ child, key }) => this.dialect.dropConstraint!(child, key.name));
  }

  /** At contract, after the swap: the new constraints take the old names; in the model too. */
  renames(model: SchemaModel): Step[] {
    const { source, helper, physical } = this.column;
    const toPhysical = (columns: string[]) => columns.map((c) => (c === helper ? physical : c));
    const steps: Step[] = [];
    for (const { key, shadow } of this.keys) {
      steps.push(this.dialect.renameForeignKey!(source, shadow.name, definition(key.name, key.columns, key.references!)));
      swapKey(model, source, key.name, shadow.name, (c, on) => ({ ...c, columns: on.name === source ? toPhysical(c.columns) : c.columns }));
    }
    for (const { check, shadow } of this.checks) steps.push(this.dialect.renameConstraint!(source, shadow.name, check.name));
    for (const { child, key, shadow, index } of this.referencing) {
      steps.push(this.dialect.renameConstraint!(child, shadow.name, key.name));
      swapKey(model, child, key.name, shadow.name, (c) =>
        c.from === undefined
          ? { ...c, references: { ...shadow.references, columns: toPhysical(shadow.references.columns) } }
          : { ...c, columns: toPhysical(c.columns), index },
      );
    }
    // The old checks went with the old column; the new ones take their names, and (over the column's final name) their conditions.
    const table = model.table(source)!;
    table.constraints = table.constraints
      ?.filter((c) => !this.checks.some(({ check }) => c === check))
      .map((c) => this.checks.find(({ shadow }) => c.kind === 'check' && c.name === shadow.name)?.check ?? c);
    return steps;
  }

  /** At rollback, before the new column goes: the new constraints (InnoDB keeps a column and an index a key uses); in the model too. */
  rollback(model: SchemaModel): Step[] {
    const { source } = this.column;
    const table = model.table(source)!;
    const checks = this.checks.map(({ shadow }) => shadow.name);
    table.constraints = table.constraints?.filter((c) => !(c.kind === 'check' && checks.includes(c.name)));
    for (const { shadow } of this.keys)
      for (const t of model.tables) t.constraints = t.constraints?.filter((c) => !isForeignKeyEnd(c, shadow.name, t, source));
    for (const { child, shadow } of this.referencing)
      for (const t of model.tables) t.constraints = t.constraints?.filter((c) => !isForeignKeyEnd(c, shadow.name, t, child));
    return [
      // Ahead of the rest, even of what runs outside a transaction: the new column's unique index cannot go before them.
      ...this.referencing.map(({ child, shadow }) => ({ ...this.dialect.dropConstraint!(child, shadow.name), prepares: true })),
      ...checks.map((name) => this.dialect.dropConstraint!(source, name)),
      ...this.keys.flatMap(({ shadow }) => this.dialect.dropForeignKey(source, shadow.name)),
    ];
  }
}

/**
 * In the model, foreign key `name` of table `owner` is gone from both its
 * ends, and key `shadow` takes its name there, each end changed by `changed`.
 */
function swapKey(
  model: SchemaModel,
  owner: string,
  name: string,
  shadow: string,
  changed: (end: ConstraintModel, on: TableModel) => ConstraintModel,
): void {
  for (const table of model.tables)
    table.constraints = (table.constraints ?? [])
      .filter((c) => !isForeignKeyEnd(c, name, table, owner))
      .map((c) => (isForeignKeyEnd(c, shadow, table, owner) ? { ...changed(c, table), name } : c));
}

/** How a dialect writes a foreign key: its name and columns, and what it references and does on delete. */
function definition(name: string, columns: string[], references: ForeignKeyReference): ForeignKeyDefinition {
  const { table, columns: referenced, onDelete } = references;
  return { name, columns, references: { table, columns: referenced }, ...(onDelete ? { onDelete } : {}) };
}
