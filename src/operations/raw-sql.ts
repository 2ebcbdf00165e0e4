import type { RawSqlSpec } from '../migration/types';
import type { Dialect } from '../dialects/dialect';
import { step, type Step } from '../engine/step';
import { ValidationError } from '../errors';
import type { Operation, PlanContext } from './operation';

/**
 * The escape hatch: raw SQL per phase. A string may hold several statements;
 * consecutive ones that can share a transaction run in one, the others
 * (CREATE INDEX CONCURRENTLY) run alone outside any.
 */
export class RawSql implements Operation {
  readonly kind = 'sql';
  readonly opaque = true;

  constructor(readonly spec: RawSqlSpec) {}

  describe(): string {
    return 'raw SQL';
  }

  validate(ctx: PlanContext): void {
    if (typeof this.spec !== 'object' || this.spec === null || typeof this.spec.expand !== 'string') {
      throw new ValidationError(ctx.migration, "op.sql needs { expand: '<SQL>' } (contract and rollback are optional)");
    }
    for (const phase of ['contract', 'rollback'] as const) {
      if (this.spec[phase] !== undefined && typeof this.spec[phase] !== 'string') {
        throw new ValidationError(ctx.migration, `op.sql: ${phase} must be a string of SQL`);
      }
    }
  }

  expand(ctx: PlanContext): Step[] {
    return steps(ctx.dialect, 'expand', this.spec.expand);
  }

  contract(ctx: PlanContext): Step[] {
    return steps(ctx.dialect, 'contract', this.spec.contract);
  }

  rollback(ctx: PlanContext): Step[] {
    return steps(ctx.dialect, 'rollback', this.spec.rollback);
  }

  shapeView(): void {}
}

function steps(dialect: Dialect, phase: string, sql: string | undefined): Step[] {
  const result: Step[] = [];
  let group: string[] = [];
  const flush = () => {
    if (group.length > 0) result.push(step(`raw SQL (${phase})`, group.join(';\n')));
    group = [];
  };
  for (const statement of dialect.splitStatements(sql ?? '')) {
    if (dialect.needsNoTransaction(statement)) {
      flush();
      // A concurrent index build that failed left an invalid index: the guard drops it and the build runs again.
      const index = dialect.indexBuiltConcurrently?.(statement);
      const guard = index ? { guard: { kind: 'indexExists' as const, ...index } } : {};
      result.push(step(`raw SQL (${phase}, outside a transaction)`, statement, { transactional: false, ...guard }));
    } else {
      group.push(statement);
    }
  }
  flush();
  return result;
}
