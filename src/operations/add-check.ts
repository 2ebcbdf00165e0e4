import type { Step } from '../engine/step';
import { ValidationError } from '../errors';
import { checkIdentifier, checkSqlFragment } from './checks';
import { resolve } from './add-foreign-key';
import { chooseWalkKey, missingWalkKey } from '../engine/walk-key';
import { namesIdentifier } from '../engine/dual-write';
import {
  refuseTakenConstraintName,
  sourceTable,
  type DualWrite,
  type DualWriteContext,
  type Operation,
  type PlanContext,
} from './operation';

/**
 * PostgreSQL: CHECK … NOT VALID at expand (a short lock, no scan; new writes
 * are checked from then on), VALIDATE CONSTRAINT at contract (a scan that
 * does not block writes), dropped by rollback. The rows already there are
 * also checked at expand, in chunks, so bad rows show then, not at contract.
 *
 * MySQL 8 and MariaDB enforce CHECK constraints but can only add one to a
 * table with rows by copying it under a write lock (ALGORITHM=COPY,
 * LOCK=SHARED; INPLACE, NOCOPY and INSTANT are refused, even with MariaDB's
 * check_constraint_checks off: MDEV-16356, MySQL bug #117450). On MariaDB the
 * table is rebuilt online instead (TableRebuild): the rows are checked in
 * chunks first, the check goes on the empty shadow, the copy and the mirror
 * of the apps' writes fill it (a write that breaks the check fails from then
 * on), and the swap puts it in place. Nothing is left for contract;
 * rollback drops it instantly. MySQL 8 is refused, before anything changes.
 *
 * `expression` names the table's columns as they are physically (before the
 * renames of this migration).
 */
export class AddCheck implements Operation {
  readonly kind = 'addCheck';

  constructor(
    readonly table: string,
    readonly name: string,
    readonly expression: string,
  ) {}

  describe(): string {
    return `add check ${this.name} on ${this.table}`;
  }

  namesColumnsOf(): Array<{ table: string; sql: string }> {
    return [{ table: this.table, sql: this.expression }];
  }

  validate(ctx: PlanContext): void {
    sourceTable(ctx, this.table);
    checkIdentifier(ctx.dialect, ctx.migration, 'check constraint name', this.name);
    checkSqlFragment(ctx.dialect, ctx.migration, `addCheck ${this.name}: expression`, this.expression);
    refuseTakenConstraintName(ctx, `addCheck ${this.name}`, sourceTable(ctx, this.table), this.name, 'check');
    if (ctx.dialect.capabilities.notValidConstraints && ctx.dialect.addCheck) return;
    if (!ctx.dialect.rebuild?.checks) {
      throw new ValidationError(
        ctx.migration,
        `addCheck ${this.name}: ${ctx.dialect.displayName} can add a CHECK constraint only by copying the whole table under a lock that blocks writes ` +
          '(ALGORITHM=COPY, LOCK=SHARED; it has no NOT VALID and no online way), so the apps would wait for the whole copy',
        {
          hint:
            'on MariaDB zmigrate adds it by an online rebuild of the table; on MySQL 8 enforce the rule in the application or in a trigger, ' +
            'or add the constraint with op.sql in a maintenance window, or with an online schema change tool (gh-ost, pt-online-schema-change)',
        },
      );
    }
    const model = ctx.model.table(sourceTable(ctx, this.table))!;
    if (!chooseWalkKey(model, false)) {
      const missing = missingWalkKey(model);
      throw new ValidationError(
        ctx.migration,
        `addCheck ${this.name}: the table ${missing.reason}, which zmigrate needs to rebuild it online with the check (${ctx.dialect.displayName} cannot add a CHECK to it without blocking writes)`,
        { hint: missing.hint },
      );
    }
  }

  expand(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    // Later migrations of the same run see the check on the columns its expression names (alterColumn carries it over).
    const table = ctx.model.table(source);
    table?.constraints?.push({
      kind: 'check',
      name: this.name,
      columns: table.columns.map((c) => c.name).filter((column) => namesIdentifier(this.expression, column)),
      expression: this.expression,
    });
    // Without NOT VALID, the check goes on the shadow of the table's rebuild (dualWrite).
    if (!ctx.dialect.addCheck) return [];
    return [ctx.dialect.addCheck(source, this.name, checkSqlFragment(ctx.dialect, ctx.migration, 'expression', this.expression))];
  }

  contract(ctx: PlanContext): Step[] {
    return ctx.dialect.validateConstraint ? [ctx.dialect.validateConstraint(sourceTable(ctx, this.table), this.name)] : [];
  }

  rollback(ctx: PlanContext): Step[] {
    const table = ctx.model.table(sourceTable(ctx, this.table));
    if (table) table.constraints = table.constraints?.filter((c) => !(c.kind === 'check' && c.name === this.name));
    const source = sourceTable(ctx, this.table);
    if (ctx.dialect.dropConstraint) return [ctx.dialect.dropConstraint(source, this.name)];
    return ctx.dialect.rebuild?.checks ? [ctx.dialect.rebuild.checks.drop(source, this.name)] : [];
  }

  shapeView(): void {}

  /**
   * Rows already there that the check rejects (a NULL result passes, as in
   * the constraint); without NOT VALID, the check for the rebuilt table's
   * shadow too.
   */
  dualWrite(ctx: DualWriteContext): DualWrite | undefined {
    const { table } = resolve(ctx, this.table, []);
    const model = ctx.model.table(table);
    const key = model && chooseWalkKey(model, ctx.dialect.rowAddress !== undefined);
    if (!key) return undefined; // VALIDATE at contract still checks them
    const checks = ctx.dialect.addCheck ? undefined : ctx.dialect.rebuild?.checks;
    const expression = this.expression.trim();
    return {
      table,
      rules: [],
      backfill: [],
      verify: [{ table, key, what: `check ${this.name} (${expression})`, mismatch: `NOT (${expression})` }],
      ...(checks
        ? { shadow: { what: `addCheck ${this.name}`, steps: (shadow: string) => [checks.add(shadow, this.name, expression)] } }
        : {}),
    };
  }
}
