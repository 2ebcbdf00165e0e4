import type { AlterColumnSpec, ColumnSpec } from '../migration/types';
import type { ColumnModel, IndexModel, IndexPart, SchemaModel, VersionView } from '../engine/schema-model';
import type { Step } from '../engine/step';
import { helperColumn, rowOf, type Condition, type VerifySpec } from '../engine/dual-write';
import { ValidationError } from '../errors';
import { checkSqlFragment } from './checks';
import { CarriedConstraints } from './carried-constraints';
import { refuseAlteration, refuseHolders, type RebuiltIndex } from './alter-column-refusals';
import {
  refuseTriggerBlindReads,
  refuseNotNullTimestamp,
  refuseRewritingType,
  requireColumn,
  requireWalkKey,
  sourceTable,
  fillNulls,
  onUpdateColumns,
  filledCheck,
  type DualWrite,
  type DualWriteContext,
  type Operation,
  type PlanContext,
  notNullCheckName,
  walkKeyOf,
} from './operation';

/** The string types of both engines, which a collation applies to. */
const STRING_TYPE =
  /^\s*(character\s+varying|varchar|character|char|nchar|nvarchar|bpchar|text|tinytext|mediumtext|longtext|citext|enum|set)\b/i;

/** Words of an index definition besides its columns: a column named so is not rewritten in a partial or expression one. */
const INDEX_WORDS =
  /^(btree|hash|gist|gin|spgist|brin|where|with|include|nulls|not|distinct|desc|asc|first|last|collate|fillfactor|deduplicate_items|fastupdate|gin_pending_list_limit|buffering|pages_per_range|autosummarize|\w+_ops)$/i;

/**
 * A unique index whose NULLs are not distinct (PostgreSQL 15+): over the new
 * column, NULL in every row until the backfill fills it, it could not be
 * built before, so it is built after the backfill (the old one holds until then).
 */
function waitsForBackfill(index: IndexModel): boolean {
  return index.unique && index.definition !== undefined && /\bNULLS NOT DISTINCT\b/.test(index.definition);
}

/**
 * A new physical column beside the old one (`_zm_<column>`): `up` maps old to
 * new and `down` new to old, both kept in sync by triggers, old rows
 * backfilled. The new version sees the new column under the old name. At
 * contract the old column goes and the new one takes its name; rollback drops
 * the new one. What the column had moves with it: indexes (on PostgreSQL the
 * primary key too, attached to its rebuilt index in the swap), constraints
 * (CarriedConstraints), and on PostgreSQL a serial's sequence or an identity.
 */
export class AlterColumn implements Operation {
  readonly kind = 'alterColumn';

  constructor(
    readonly table: string,
    readonly column: string,
    readonly spec: AlterColumnSpec,
  ) {}

  describe(): string {
    return `alter column ${this.table}.${this.column}`;
  }

  validate(ctx: PlanContext): void {
    requireColumn(ctx, this.table, this.column);
    requireWalkKey(ctx, this.table);
    const what = `alterColumn ${this.table}.${this.column}`;
    if (typeof this.spec !== 'object' || this.spec === null) throw new ValidationError(ctx.migration, `${what}: needs { up, down, ... }`);
    checkSqlFragment(ctx.dialect, ctx.migration, `${what}: up`, this.spec.up);
    checkSqlFragment(ctx.dialect, ctx.migration, `${what}: down`, this.spec.down);
    if (this.spec.type !== undefined) {
      checkSqlFragment(ctx.dialect, ctx.migration, `${what}: type`, this.spec.type);
      refuseRewritingType(ctx, what, this.spec.type);
    }
    if (this.spec.default !== undefined) checkSqlFragment(ctx.dialect, ctx.migration, `${what}: default`, this.spec.default);
    if (this.spec.type === undefined && this.spec.nullable === undefined && this.spec.default === undefined) {
      throw new ValidationError(ctx.migration, `${what}: nothing to change (give type, nullable or default)`);
    }
    const { source, physical, helper, old } = this.names(ctx);
    refuseAlteration(ctx, {
      what,
      spec: this.spec,
      source,
      physical,
      old,
      finalType: this.final(old).type,
      primaryKeyName: ctx.model.table(source)!.primaryKeyName,
      indexes: this.indexes(ctx),
      carried: this.carried(ctx),
      rebuilt: (index) => this.rebuiltDefinition(ctx, index, physical, helper),
    });
    refuseTriggerBlindReads(ctx, `${what}: up`, this.table, this.spec.up);
    refuseTriggerBlindReads(ctx, `${what}: down`, this.table, this.spec.down);
    const final = this.final(old);
    // Contract sets the old default on the new column: the server is asked now whether the new type takes it.
    if (this.spec.type !== undefined && this.spec.default === undefined && old.default !== null)
      ctx.keptDefaults?.push({ what, column: old.name, type: final.type, default: old.default });
    if (final.nullable === false) refuseNotNullTimestamp(ctx, what, final.type);
    if (old.onUpdate !== undefined && this.onUpdate(old) === undefined)
      throw new ValidationError(
        ctx.migration,
        `${what}: the column has ON UPDATE ${old.onUpdate}, which a ${final.type} column cannot have`,
        {
          hint: 'keep a timestamp or datetime type, or drop ON UPDATE in an earlier migration',
        },
      );
  }

  /** MySQL/MariaDB: the old column's ON UPDATE, kept, at the new type's precision; undefined where the new type cannot have one. */
  private onUpdate(old: ColumnModel): string | undefined {
    if (old.onUpdate === undefined) return undefined;
    const temporal = /^\s*(?:timestamp|datetime)\b\s*(?:\(\s*(\d)\s*\))?/i.exec(this.spec.type ?? old.type);
    return temporal ? `current_timestamp(${temporal[1] ?? ''})` : undefined;
  }

  /**
   * The indexes that use the column, the primary key's first where it is one
   * of its columns: rebuilt on the new column at expand, renamed at contract.
   */
  private indexes(ctx: PlanContext): RebuiltIndex[] {
    const { source, physical } = this.names(ctx);
    const primary = this.primaryIndex(ctx);
    return [
      ...(primary ? [primary] : []),
      ...ctx.model
        .table(source)!
        .indexes.filter((i) => (i.uses ?? i.columns).some((c) => ctx.dialect.rules.sameColumn(c, physical)) && !i.name.startsWith('_zm_')),
    ];
  }

  /** The table's primary key, as the index it is, where the column is one of its columns. */
  private primaryIndex(ctx: PlanContext): RebuiltIndex | undefined {
    const { source, physical } = this.names(ctx);
    const table = ctx.model.table(source)!;
    const uses = table.primaryKeyIndex?.uses ?? table.primaryKey;
    if (!uses.some((c) => ctx.dialect.rules.sameColumn(c, physical))) return undefined;
    return { name: table.primaryKeyName ?? 'PRIMARY', columns: table.primaryKey, unique: true, primary: true, ...table.primaryKeyIndex };
  }

  /**
   * The index's definition with the column read as `to`, where the dialect
   * can build one from it and the rewrite is sure: in a partial or
   * expression index, not where the column's name is also a word an index
   * definition uses for something else (a keyword, a storage parameter, an
   * operator class); in another, only where each word that names the column
   * is one of its columns (`last DESC NULLS LAST` is not rewritten).
   */
  private rebuiltDefinition(ctx: Pick<PlanContext, 'dialect'>, index: IndexModel, from: string, to: string): string | undefined {
    const { rewriteColumn, createIndexUsing } = ctx.dialect;
    const { definition } = index;
    if (!definition || !rewriteColumn || !createIndexUsing || (index.special && INDEX_WORDS.test(from))) return undefined;
    const rewritten = rewriteColumn.call(ctx.dialect, definition, from, to);
    if (rewritten === undefined || index.special) return rewritten;
    const quoted = ctx.dialect.quote(to);
    const count = (text: string) => text.split(quoted).length - 1;
    const read = [...index.columns, ...(index.uses ?? []).filter((c) => !index.columns.includes(c))];
    return count(rewritten) - count(definition) === read.filter((c) => c === from).length ? rewritten : undefined;
  }

  private shadowIndex(name: string): string {
    return helperColumn(name);
  }

  private names(ctx: PlanContext): { source: string; physical: string; helper: string; old: ColumnModel } {
    const source = sourceTable(ctx, this.table);
    const physical = ctx.view.column(this.table, this.column)!.source;
    const old = ctx.model.column(source, physical)!;
    return { source, physical, old, helper: helperColumn(physical) };
  }

  /** The column's constraints built again on the new column; from planning or from the dual-write rules' context. */
  private carried(ctx: PlanContext | DualWriteContext): CarriedConstraints {
    const { source, physical } =
      'view' in ctx
        ? this.names(ctx)
        : { source: ctx.previous.table(this.table)!.source, physical: ctx.previous.column(this.table, this.column)!.source };
    const helper = helperColumn(physical);
    const label = `${this.table}.${this.column}`;
    return new CarriedConstraints(ctx.dialect, ctx.model, { source, physical, helper, label, notNullCheck: this.checkName(helper) });
  }

  /**
   * The column as it ends up: what the operation says, else what the column
   * had; its type followed by the column's own collation where it keeps one.
   */
  private final(old: ColumnModel): ColumnSpec {
    const collation = this.collation(old);
    const type = this.spec.type ?? old.type;
    return {
      type: collation ? `${type} ${collation}` : type,
      nullable: this.spec.nullable ?? old.nullable,
      default: this.spec.default ?? old.default ?? undefined,
    };
  }

  /**
   * The old column's own collation (and MySQL character set), kept: unless
   * the operation's type says one itself, or is not a string type.
   */
  private collation(old: ColumnModel): string | undefined {
    const { type } = this.spec;
    if (!old.collation || (type !== undefined && (!STRING_TYPE.test(type) || /\b(collate|character\s+set|charset)\b/i.test(type))))
      return undefined;
    return old.collation;
  }

  private checkName(helper: string): string {
    return notNullCheckName('', helper, '_not_null', 48);
  }

  expand(ctx: PlanContext): Step[] {
    const { source, helper, old } = this.names(ctx);
    const final = this.final(old);
    const invisible = ctx.dialect.capabilities.invisibleColumns;
    const collation = this.collation(old);
    // Nullable and without a default while live, so the trigger can tell which app wrote a row. Right after
    // the old column where the engine places columns, so that the column keeps its place once it takes its name.
    const placed = ctx.dialect.capabilities.placesColumns;
    const columns = ctx.model.table(source)!.columns;
    const at = placed ? columns.findIndex((c) => ctx.dialect.rules.sameColumn(c.name, old.name)) + 1 : columns.length;
    columns.splice(at, 0, {
      name: helper,
      type: this.spec.type ?? old.type,
      nullable: true,
      default: null,
      invisible,
      ...(collation ? { collation } : {}),
    });
    const steps = [
      ctx.dialect.addColumn(source, helper, { type: final.type, nullable: true }, { invisible, ...(placed ? { after: old.name } : {}) }),
    ];
    for (const index of this.indexes(ctx)) {
      const onHelper = (columns: string[]) => columns.map((c) => (ctx.dialect.rules.sameColumn(c, old.name) ? helper : c));
      const name = this.shadowIndex(index.name);
      const definition = this.rebuiltDefinition(ctx, index, old.name, helper);
      if (definition !== undefined) {
        // Built again from its definition, rewritten for the new column: all of it kept (method, options, predicate).
        const uses = onHelper(index.uses ?? index.columns);
        const shadow: IndexModel = {
          name,
          columns: onHelper(index.columns),
          unique: index.unique,
          special: index.special,
          uses,
          definition,
        };
        ctx.model.table(source)!.indexes.push(shadow);
        if (!waitsForBackfill(shadow)) steps.push(ctx.dialect.createIndexUsing!(source, name, index.unique, definition));
        continue;
      }
      // Else from its columns, with what the dialect reads of each (prefix length, order) and of the index (kind, comment).
      const { unique, kind, comment, ignored } = index;
      const parts = index.parts?.map((part, i) =>
        ctx.dialect.rules.sameColumn(index.columns[i], old.name) ? prefixFor(part, this.spec.type) : part,
      );
      const shadow: IndexModel = { name, columns: onHelper(index.columns), unique, kind, parts, comment, ignored };
      ctx.model.table(source)!.indexes.push(shadow);
      steps.push(ctx.dialect.createIndex(source, shadow));
    }
    // The column's constraints on the new column come after the backfill (dualWrite's afterBackfill).
    this.carried(ctx).expand(ctx.model);
    return steps;
  }

  checkContract(ctx: PlanContext): void {
    refuseHolders(ctx, { what: `alterColumn ${this.table}.${this.column}`, old: this.names(ctx).old }, true);
  }

  contract(ctx: PlanContext): Step[] {
    const { source, physical, helper, old } = this.names(ctx);
    const final = this.final(old);
    const steps: Step[] = [];
    const checked = final.nullable === false && ctx.dialect.validateConstraint !== undefined;
    if (checked) steps.push(ctx.dialect.validateConstraint!(source, this.checkName(helper)));
    const indexes = this.indexes(ctx);
    // Validated before the old column goes with its constraints: a scan that takes no lock writes wait for.
    const carried = this.carried(ctx);
    steps.push(...carried.validations());
    const keyNames = carried.oldKeys;
    // The old keys go with the placeholder, whose value has no parent; else with the old column.
    const placeholder =
      !old.nullable && old.default === null ? ctx.dialect.placeholderDefault?.(source, physical, old.type, keyNames) : undefined;
    if (placeholder) steps.unshift(placeholder);
    steps.push(...carried.dropsBeforeSwap());
    const replace = ctx.dialect.replaceColumn(
      source,
      physical,
      helper,
      {
        ...final,
        comment: old.comment,
        grants: old.grants,
        onUpdate: this.onUpdate(old),
        ...(old.sequence ? { sequence: { name: old.sequence, identity: old.identity } } : {}),
      },
      indexes.map((i) => i.name),
      placeholder ? [] : keyNames,
      onUpdateColumns(ctx, source),
    );
    // The old indexes and foreign keys went with the old column; the rebuilt ones take their names. A UNIQUE
    // constraint's index, or the primary key's, is rebuilt as a plain unique index: it becomes the constraint
    // again (no scan); and the replica identity, which went with the old index, goes to the rebuilt one.
    const settled = indexes.map((index) => [
      ctx.dialect.renameIndex(source, this.shadowIndex(index.name), index.name),
      ...(index.primary
        ? [ctx.dialect.attachPrimaryKey!(source, index.name)]
        : index.constraint && ctx.dialect.attachUniqueConstraint
          ? [ctx.dialect.attachUniqueConstraint(source, index.name)]
          : []),
      ...(index.replicaIdentity && ctx.dialect.replicaIdentity ? [ctx.dialect.replicaIdentity(source, index.name)] : []),
    ]);
    // Without the primary key or the replica identity index, a table in a publication refuses the apps' UPDATEs
    // and DELETEs: where DDL is transactional, that index is settled in the swap's own transaction.
    const inSwap = (i: number) => ctx.dialect.capabilities.transactionalDdl && (indexes[i].primary || indexes[i].replicaIdentity === true);
    const folded = settled.flatMap((s, i) => (inSwap(i) ? s : []));
    replace.sql = [replace.sql, ...folded.map((one) => one.sql)].join(';\n');
    replace.description = [replace.description, ...folded.map((one) => one.description)].join('; ');
    steps.push(replace);
    if (checked) steps.push(ctx.dialect.dropConstraint!(source, this.checkName(helper)));
    steps.push(...settled.flatMap((s, i) => (inSwap(i) ? [] : s)));
    steps.push(...carried.renames(ctx.model));
    const table = ctx.model.table(source)!;
    table.indexes = table.indexes
      .filter((i) => !indexes.includes(i))
      .flatMap((i) => {
        const original = indexes.find((o) => this.shadowIndex(o.name) === i.name);
        const onPhysical = (columns: string[]) => columns.map((c) => (c === helper ? physical : c));
        // The primary key keeps its columns' names (table.primaryKey): the new column has taken the old one's.
        if (original?.primary) return [];
        if (!original) return [i];
        // An index rebuilt from its definition reads the column under its final name again.
        const written = i.definition !== undefined ? { uses: onPhysical(i.uses ?? []), definition: original.definition } : {};
        return [
          {
            ...i,
            name: original.name,
            columns: onPhysical(i.columns),
            ...written,
            ...(original.constraint ? { constraint: true } : {}),
            ...(original.replicaIdentity ? { replicaIdentity: true as const } : {}),
          },
        ];
      });
    table.columns = table.columns
      .filter((c) => !ctx.dialect.rules.sameColumn(c.name, physical))
      .map((c) =>
        c.name === helper
          ? {
              ...c,
              name: physical,
              nullable: final.nullable !== false,
              default: final.default ?? null,
              invisible: false,
              comment: old.comment,
              ...(old.grants ? { grants: old.grants } : {}),
              ...(old.identity ? { identity: old.identity } : {}),
              ...(old.sequence ? { sequence: old.sequence } : {}),
            }
          : c,
      );
    return steps;
  }

  rollback(ctx: PlanContext): Step[] {
    const { source, helper } = this.names(ctx);
    const table = ctx.model.table(source)!;
    // The column's constraints on the new column go first.
    const constraints = this.carried(ctx).rollback(ctx.model);
    const shadows = table.indexes.filter((i) => (i.uses ?? i.columns).includes(helper));
    table.columns = table.columns.filter((c) => c.name !== helper);
    table.indexes = table.indexes.filter((i) => !shadows.includes(i));
    // Shadow indexes first: MariaDB refuses to drop a column out of a multi-column unique index.
    return [...constraints, ...shadows.map((i) => ctx.dialect.dropIndex(source, i.name)), ctx.dialect.dropColumn(source, helper)];
  }

  shapeView(view: VersionView, model: SchemaModel): void {
    const column = view.column(this.table, this.column);
    const source = view.table(this.table)?.source;
    const helper = column && helperColumn(column.source);
    // Once contracted, the helper has taken the column's name (and its default).
    if (!column || !source || !helper || !model.column(source, helper)) return;
    const old = model.column(source, column.source);
    column.source = helper;
    // The helper has no default while both apps write (an old-app insert must leave it NULL): the new app's view has it.
    const fallback = old && this.final(old).default;
    if (fallback !== undefined) column.default = fallback;
  }

  dualWrite(ctx: DualWriteContext): DualWrite {
    const previous = ctx.previous.table(this.table)!;
    const physical = ctx.previous.column(this.table, this.column)!.source;
    const helper = ctx.next.column(this.table, this.column)!.source;
    const final = this.final(ctx.model.column(previous.source, physical)!);
    // A column that may be NULL in the end, where the new app's view has its default: every insert of a new-app
    // session is the new app's, one that leaves the new column NULL too, and up never overwrites what the new
    // app wrote (a NULL included). Where it may not, a NULL there is the new app leaving the column to the old
    // one's default or identity, as before the view had defaults.
    const byNewApp: Condition | undefined =
      ctx.dialect.capabilities.viewColumnDefaults && final.nullable !== false ? { newApp: true } : undefined;
    const notByNewApp = (condition: Condition): Condition => (byNewApp ? { all: [{ not: byNewApp }, condition] } : condition);
    // An `up` the server does not take as immutable (now(), a stable function) need not give again what it gave.
    const mutable = ctx.mutable?.(previous.source, rowOf(previous), this.spec.up, final.type) === true;
    const check = mutable
      ? filledCheck(`${this.table}.${this.column} (new)`, ctx.dialect.quote(helper), this.spec.up)
      : {
          what: `${this.table}.${this.column} (new) = up(old)`,
          mismatch: ctx.dialect.holdsOtherThan(ctx.dialect.quote(helper), this.spec.up, final.type),
        };
    // Once expanded, a NULL in the new column may be the new app's own (the triggers fill every other write's):
    // a rerun of the backfill fills none again, and its verification holds only the other rows to up (none, where
    // up is not compared: it checks only that rows are filled).
    const fill =
      ctx.live && byNewApp
        ? {
            backfill: [],
            verify: mutable
              ? []
              : [
                  {
                    table: previous.source,
                    key: walkKeyOf(ctx, previous.source),
                    what: `${check.what} where not NULL`,
                    mismatch: `${ctx.dialect.quote(helper)} IS NOT NULL AND ${check.mismatch}`,
                  },
                ],
            notRefilled: [`${this.table}.${this.column}`],
          }
        : fillNulls(ctx, previous.source, helper, this.spec.up, check);
    // A NULL that up gave passes the check above (NULL is up(old)), but the column becomes NOT NULL at contract,
    // which would fail there, after the trigger is gone: the expand stops here instead, naming the rows.
    const filled: VerifySpec[] =
      final.nullable === false
        ? [
            {
              table: previous.source,
              key: walkKeyOf(ctx, previous.source),
              what: `${this.table}.${this.column} (new) is not null`,
              mismatch: `${ctx.dialect.quote(helper)} IS NULL`,
            },
          ]
        : [];
    const carried = this.carried(ctx).afterBackfill(ctx);
    return {
      table: previous.source,
      rules: [
        // The new app wrote the new column: derive the old one.
        {
          target: physical,
          expression: this.spec.down,
          row: rowOf(ctx.next.table(this.table)),
          onInsert: byNewApp ? { any: [{ notNull: helper }, byNewApp] } : { notNull: helper },
          onUpdate: { changed: [helper] },
        },
        // The old app wrote the old column: derive the new one.
        {
          target: helper,
          expression: this.spec.up,
          row: rowOf(previous),
          onInsert: notByNewApp({ isNull: helper }),
          // …or the row is not backfilled yet: fill it now, as the backfill would.
          onUpdate: notByNewApp({ any: [{ isNull: helper }, { all: [{ unchanged: helper }, { changed: [physical] }] }] }),
        },
      ],
      ...fill,
      verify: [...(fill.verify ?? []), ...filled, ...carried.verify],
      afterBackfill: [
        ...this.notNullCheck(ctx, previous.source, helper),
        ...this.indexesAfterBackfill(ctx, previous.source, physical, helper),
        ...carried.add,
      ],
    };
  }

  /**
   * The indexes over the column that the new column's NULLs would break until it is backfilled
   * (waitsForBackfill), built again on it now: read from the old ones, the model being the server's here.
   */
  private indexesAfterBackfill(ctx: DualWriteContext, source: string, physical: string, helper: string): Step[] {
    return (ctx.model.table(source)?.indexes ?? [])
      .filter(
        (i) =>
          waitsForBackfill(i) && !i.name.startsWith('_zm_') && (i.uses ?? i.columns).some((c) => ctx.dialect.rules.sameColumn(c, physical)),
      )
      .flatMap((i) => {
        const definition = this.rebuiltDefinition(ctx, i, physical, helper);
        return definition === undefined ? [] : [ctx.dialect.createIndexUsing!(source, this.shadowIndex(i.name), i.unique, definition)];
      });
  }

  private notNullCheck(ctx: DualWriteContext, source: string, helper: string): Step[] {
    const old = ctx.model.column(source, ctx.previous.column(this.table, this.column)!.source)!;
    if (this.final(old).nullable !== false || !ctx.dialect.addNotNullCheck) return [];
    return [ctx.dialect.addNotNullCheck(source, helper, this.checkName(helper))];
  }

  /** The new type, which may make the server rewrite the table to add the new column. */
  defaultsToProbe(): Array<{ type: string }> {
    return typeof this.spec?.type === 'string' ? [{ type: this.spec.type }] : [];
  }

  reshapes(): string[] {
    return [this.table];
  }

  columnsDroppedAtContract(): Array<{ table: string; column: string }> {
    // Named as they are: no other live migration reshapes the table, and no other operation of this one renames it or the column.
    return [{ table: this.table, column: this.column }];
  }
}

/**
 * MySQL/MariaDB: the altered column's key part, its prefix length kept only
 * where the new type is a string type longer than it; the server refuses a
 * prefix of a number, or one as long as the column or longer.
 */
function prefixFor(part: IndexPart, type: string | undefined): IndexPart {
  if (part.length === undefined || type === undefined) return part;
  const sized = /^\s*(?:var)?(?:char|binary)\s*\(\s*(\d+)\s*\)/i.exec(type);
  if (/^\s*(?:tiny|medium|long)?(?:text|blob)\b/i.test(type) || (sized && Number(sized[1]) > part.length)) return part;
  return part.descending ? { descending: true } : {};
}
