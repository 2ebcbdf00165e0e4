import type { AddColumnSpec } from '../migration/types';
import type { VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { rowOf } from '../engine/dual-write';
import { ValidationError } from '../errors';
import { perRowValues } from '../lint/per-row';
import { SERIAL_INTEGERS } from '../lint/values';
import { checkColumnSpec, checkIdentifier, checkSqlFragment } from './checks';
import {
  probedKey,
  refuseTriggerBlindReads,
  refuseNotNullTimestamp,
  refuseRewritingType,
  requireWalkKey,
  requireTable,
  sourceTable,
  fillNulls,
  onUpdateColumns,
  filledCheck,
  type DualWrite,
  type DualWriteContext,
  type Operation,
  type PlanContext,
  notNullCheckName,
} from './operation';

/**
 * The functions in a default that MariaDB computes for each row, and so
 * will not add online (`LOCK=NONE is not supported`). A default with rand()
 * it adds in place, every row there getting one value, as its native
 * ADD COLUMN does: that is left to it.
 */
const PER_ROW_ON_MYSQL = /\b(?:uuid|uuid_short|sys_guid|nextval|sysdate)\s*\(/i;

/**
 * A new column. At expand it is added so the old app does not notice it
 * (INVISIBLE where the engine has that). With `up`, a trigger fills it for the
 * old app's writes and a backfill for the rows already there; NOT NULL and the
 * default then take effect at contract. Rollback drops it.
 *
 * A default the server computes for each row (gen_random_uuid(), uuid(),
 * nextval(), a function of the user's marked volatile) would make a native
 * ADD COLUMN write every row while writes wait. Such a column is added
 * without it, the default is set for the rows inserted from then on (the old
 * app's inserts get it from the table), and a backfill gives each row there
 * before one value of its own, once: no trigger, as no app writes the
 * column. NOT NULL follows at contract, as with `up`. A serial type
 * (PostgreSQL) is added so too: as the integer it stands for, its default
 * drawn from a sequence of its own.
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
      throw new ValidationError(
        ctx.migration,
        `column ${JSON.stringify(this.column)} already exists in table ${JSON.stringify(this.table)}`,
      );
    }
    if (this.spec.primaryKey || this.spec.unique) {
      throw new ValidationError(
        ctx.migration,
        `addColumn ${this.table}.${this.column}: primaryKey/unique would build an index under a lock`,
        {
          hint: 'add the column, then op.createIndex(..., { unique: true })',
        },
      );
    }
    const perRowType = perRowValues(ctx.dialect.sqlFlavour, this.spec.type, undefined).type;
    if (this.serial(ctx)) {
      if (this.spec.up !== undefined || this.spec.default !== undefined || this.spec.nullable === true) {
        throw new ValidationError(
          ctx.migration,
          `addColumn ${this.table}.${this.column}: a ${this.spec.type} column is NOT NULL and draws its values from its own sequence; it takes no up, default or nullable: true`,
        );
      }
    } else if (perRowType !== undefined) {
      const generated = /generated/.test(perRowType);
      throw new ValidationError(
        ctx.migration,
        `addColumn ${this.table}.${this.column}: ${perRowType} gets a value computed for every row, which ${ctx.dialect.displayName} writes into each row already there while writes wait`,
        {
          hint: generated
            ? "add a plain column with up: 'the expression', which fills it in batches and keeps it filled for the old app"
            : ctx.dialect.ownedSequence
              ? "type: 'bigserial' is added online: an integer column with a sequence of its own, filled in batches"
              : "on MariaDB, add an integer column with default: 'nextval(a_sequence)', the sequence made by op.sql in an earlier migration: it is filled in batches",
        },
      );
    }
    // Any other type the server rewrites the table for (the ones above have their own words).
    if (!this.serial(ctx)) refuseRewritingType(ctx, `addColumn ${this.table}.${this.column}`, this.spec.type);
    // Filled in batches, the column is added nullable and made NOT NULL at contract.
    if (this.spec.nullable === false && this.filled(ctx))
      refuseNotNullTimestamp(ctx, `addColumn ${this.table}.${this.column}`, this.spec.type);
    if (this.spec.up !== undefined) {
      checkSqlFragment(ctx.dialect, ctx.migration, `addColumn ${this.table}.${this.column}: up`, this.spec.up);
      refuseTriggerBlindReads(ctx, `addColumn ${this.table}.${this.column}: up`, this.table, this.spec.up);
      requireWalkKey(ctx, this.table);
    } else if (this.fillsOnce(ctx)) {
      requireWalkKey(ctx, this.table);
    } else if (this.spec.nullable === false && this.spec.default === undefined) {
      throw new ValidationError(
        ctx.migration,
        `addColumn ${this.table}.${this.column}: a NOT NULL column needs a default or an up expression, or the old app's inserts would fail`,
        {
          hint: "give it a default (default: '0') or up: 'SQL over the old row'",
        },
      );
    }
  }

  /**
   * Whether the default is one the server computes for each row: as it says
   * (ctx.probedDefaults, PostgreSQL), else by
   * the functions' names: on MySQL/MariaDB those it will not add online,
   * elsewhere those `zmigrate lint` knows. Then the column is filled once by
   * a backfill (see the class).
   */
  private fillsOnce(ctx: Pick<PlanContext, 'dialect' | 'probedDefaults'>): boolean {
    if (this.serial(ctx)) return true;
    const { up, type, default: value } = this.spec;
    if (up !== undefined || value === undefined) return false;
    const probed = ctx.probedDefaults?.get(probedKey(type, value));
    if (probed !== undefined) return probed;
    if (ctx.dialect.sqlFlavour === 'mysql') return PER_ROW_ON_MYSQL.test(value);
    return perRowValues(ctx.dialect.sqlFlavour, type, value).default !== undefined;
  }

  /**
   * A serial type (PostgreSQL), added as what it stands for: an integer
   * column, NOT NULL, its default drawn from a sequence of its own, filled
   * once like any default computed per row.
   */
  private serial(ctx: Pick<PlanContext, 'dialect'>): string | undefined {
    return ctx.dialect.ownedSequence ? SERIAL_INTEGERS[this.spec.type.trim().toLowerCase()] : undefined;
  }

  /** The column as it will be: a serial type as its integer, its sequence's default and NOT NULL. */
  private final(ctx: PlanContext | DualWriteContext, source: string): AddColumnSpec {
    const integer = this.serial(ctx);
    if (!integer) return this.spec;
    const { next } = ctx.dialect.ownedSequence!(source, this.column, integer, this.sequenceName(ctx, source));
    return { ...this.spec, type: integer, nullable: false, default: next };
  }

  /**
   * A serial column's sequence: once the column is there, the one it owns
   * (as the model read it, or as expand recorded it); before, the first name
   * the engine would give it that no table, view or sequence has taken.
   */
  private sequenceName(ctx: Pick<PlanContext, 'dialect' | 'model'>, source: string): string {
    const owned = ctx.model.column(source, this.column)?.sequence;
    if (owned) return owned;
    // Taken: by a table, view or sequence there is, or by the sequence of a column added earlier in this run.
    const taken = (name: string) =>
      ctx.model.other(name) !== undefined ||
      ctx.model.table(name) !== undefined ||
      ctx.model.tables.some((table) => table.columns.some((column) => column.sequence === name));
    for (const name of ctx.dialect.sequenceNames!(source, this.column)) if (!taken(name)) return name;
    throw new Error('unreachable: sequenceNames never ends');
  }

  /** With `up` or a default filled once, the column starts nullable and without default. */
  private expandSpec(ctx: PlanContext, source: string): AddColumnSpec {
    return this.spec.up === undefined && !this.fillsOnce(ctx) ? this.spec : { type: this.final(ctx, source).type, nullable: true };
  }

  private get checkName(): string {
    return notNullCheckName('', this.column, '_zm_not_null', 40);
  }

  /** Whether a backfill fills the column: from `up`, or once from its default. */
  private filled(ctx: Pick<PlanContext, 'dialect' | 'probedDefaults'>): boolean {
    return this.spec.up !== undefined || this.fillsOnce(ctx);
  }

  /** NOT NULL, where a backfill fills the column: a check (NOT VALID) once it has, validated at contract. */
  private checked(ctx: Pick<PlanContext, 'dialect' | 'probedDefaults'>): boolean {
    return this.filled(ctx) && (this.spec.nullable === false || this.serial(ctx) !== undefined);
  }

  expand(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const invisible = ctx.dialect.capabilities.invisibleColumns;
    const spec = this.expandSpec(ctx, source);
    const steps = [ctx.dialect.addColumn(source, this.column, spec, { invisible })];
    let value = spec.default ?? null;
    const integer = this.serial(ctx);
    let sequence: string | undefined;
    if (integer) {
      sequence = this.sequenceName(ctx, source);
      const made = ctx.dialect.ownedSequence!(source, this.column, integer, sequence);
      value = made.next;
      steps.push(made.step);
    } else if (this.fillsOnce(ctx)) {
      // The old app's inserts get their value from the table's default from then on; the backfill fills the rest.
      value = this.spec.default!;
      steps.push(ctx.dialect.setDefault(source, this.column, value));
    }
    ctx.model.table(source)!.columns.push({
      name: this.column,
      type: spec.type,
      nullable: spec.nullable !== false,
      default: value,
      invisible,
      ...(sequence ? { sequence } : {}),
    });
    return steps;
  }

  contract(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const column = ctx.model.column(source, this.column);
    if (!column) return [];
    const steps: Step[] = [];
    const checked = this.checked(ctx) && ctx.dialect.validateConstraint !== undefined;
    if (checked) steps.push(ctx.dialect.validateConstraint!(source, this.checkName));
    const final = this.final(ctx, source);
    if (this.filled(ctx) || column.invisible) {
      const finalize = ctx.dialect.finalizeColumn(source, this.column, final, {
        invisible: column.invisible,
        notNullChecked: checked ? this.checkName : undefined,
        keptByTrigger: this.spec.up !== undefined,
        preserved: onUpdateColumns(ctx, source),
      });
      if (finalize) steps.push(finalize);
    }
    Object.assign(column, { invisible: false, nullable: final.nullable !== false, default: final.default ?? null });
    return steps;
  }

  rollback(ctx: PlanContext): Step[] {
    const source = sourceTable(ctx, this.table);
    const table = ctx.model.table(source)!;
    table.columns = table.columns.filter((c) => !ctx.dialect.rules.sameColumn(c.name, this.column));
    return [ctx.dialect.dropColumn(source, this.column)];
  }

  shapeView(view: VersionView): void {
    const table = view.table(this.table);
    if (table && !view.column(this.table, this.column)) table.columns.push({ name: this.column, source: this.column });
  }

  dualWrite(ctx: DualWriteContext): DualWrite | undefined {
    if (this.fillsOnce(ctx)) return this.fillOnce(ctx);
    if (this.spec.up === undefined) return undefined;
    const previous = ctx.previous.table(this.table)!;
    const others = previous.columns.map((c) => c.source);
    // An `up` computed anew each time (gen_random_uuid(), random()) cannot be kept equal to the row: each
    // row is filled once, and the check is that none was left out.
    const once = perRowValues(ctx.dialect.sqlFlavour, this.spec.type, this.spec.up).default !== undefined;
    // One the server does not take as immutable (now(), current_date, a stable function) is computed for the
    // rows the old app writes as any other, but computed again it need not give what it gave then.
    const mutable = !once && ctx.mutable?.(previous.source, rowOf(previous), this.spec.up, this.spec.type) === true;
    return {
      table: previous.source,
      rules: [
        {
          target: this.column,
          expression: this.spec.up,
          row: rowOf(previous),
          onInsert: { isNull: this.column },
          // The old app changed the row (it cannot set the new column): recompute. An app of the
          // new version that left the column as it was meant it; without a session signal (MySQL
          // clients not using the helpers) that case cannot be told apart, and the column is recomputed.
          onUpdate: once
            ? { isNull: this.column }
            : { any: [{ isNull: this.column }, { all: [{ unchanged: this.column }, { changed: others }, { not: { newApp: true } }] }] },
        },
      ],
      ...fillNulls(ctx, previous.source, this.column, this.spec.up, this.fillCheck(ctx, this.spec.up, once, mutable)),
      afterBackfill: this.notNullCheck(ctx, previous.source),
    };
  }

  /** What the verification holds each row to, for a column filled from `up`. */
  private fillCheck(ctx: DualWriteContext, up: string, once: boolean, mutable: boolean): Parameters<typeof fillNulls>[4] {
    const column = ctx.dialect.quote(this.column);
    if (once) return { what: `${this.table}.${this.column} is filled`, mismatch: `${column} IS NULL` };
    // Once the migration is expanded, the new app writes the column as it means to, which `up` need not give:
    // only a row left without the value `up` gives is wrong (the trigger fills one the new app leaves NULL).
    if (ctx.live)
      return {
        what: `${this.table}.${this.column} is filled where up(row) gives a value`,
        mismatch: `${column} IS NULL AND (${up}) IS NOT NULL`,
      };
    if (mutable) return filledCheck(`${this.table}.${this.column}`, column, up);
    return { what: `${this.table}.${this.column} = up(row)`, mismatch: ctx.dialect.holdsOtherThan(column, up, this.spec.type) };
  }

  /**
   * The rows there before get the default, each its own value, and nothing
   * else: a row the old app inserts gets it from the table, and no app
   * writes the column while the migration is live (the new app, once it
   * does, means what it writes), so there is no trigger and no row is filled
   * twice. Every row must hold a value after.
   */
  private fillOnce(ctx: DualWriteContext): DualWrite {
    const source = ctx.previous.table(this.table)!.source;
    const value = ctx.dialect.quote(this.column);
    // Once expanded, a NULL left in a column that may hold one is the new app's: a rerun fills none again.
    if (ctx.live && this.final(ctx, source).nullable !== false) {
      return { table: source, rules: [], backfill: [], notRefilled: [`${this.table}.${this.column}`] };
    }
    return {
      table: source,
      rules: [],
      ...fillNulls(ctx, source, this.column, this.final(ctx, source).default!, {
        what: `${this.table}.${this.column} holds its default`,
        mismatch: `${value} IS NULL`,
      }),
      afterBackfill: this.notNullCheck(ctx, source),
    };
  }

  private notNullCheck(ctx: DualWriteContext, source: string): Step[] {
    return this.checked(ctx) && ctx.dialect.addNotNullCheck ? [ctx.dialect.addNotNullCheck(source, this.column, this.checkName)] : [];
  }

  /**
   * The type, which may make the server rewrite the table to add the column
   * (a serial type is added as an integer); and a default that is not a
   * constant written out (a number, a string, NULL, TRUE or FALSE), which
   * may be computed per row.
   */
  defaultsToProbe(): Array<{ type: string; default?: string }> {
    const { up, type, default: value } = this.spec;
    if (typeof type !== 'string') return [];
    const alone = SERIAL_INTEGERS[type.trim().toLowerCase()] ? [] : [{ type }];
    if (up !== undefined || typeof value !== 'string') return alone;
    return /^\s*(?:[-+]?\d+(?:\.\d+)?|'(?:[^'\\]|'')*'|null|true|false)\s*$/i.test(value) ? alone : [...alone, { type, default: value }];
  }

  reshapes(ctx: Pick<PlanContext, 'dialect' | 'probedDefaults'>): string[] {
    return this.filled(ctx) ? [this.table] : [];
  }
}
