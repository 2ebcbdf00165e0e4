import { asWritten, bound, literalMarks, param, type Bound } from '../dialects/bound-sql';
import type { Dialect, VersionTable } from '../dialects/dialect';
import { redactUrls } from '../dialects/url';
import { InterruptedError, StateError, ValidationError, type Phase } from '../errors';
import { sameFile, type LoadedMigration } from '../migration/loader';
import { probedKey, type DualWrite, type KeptDefault, type Operation, type PlanContext } from '../operations/operation';
import { checkOperationOrder } from '../operations/operation-order';
import {
  helperColumn,
  namesIdentifier,
  orderRules,
  rebuildTables,
  triggerName,
  triggerPrefix,
  type BackfillSpec,
  type DualWriteRule,
  type RebuildTables,
  type VerifySpec,
  type RowNames,
} from './dual-write';
import { message } from './executor';
import { namesChangingFunction } from './changing-functions';
import { checkSqlFragment } from '../operations/checks';
import { privilegeError } from './privileges';
import { captureCustomSql, thrownMessage } from './custom';
import { StepExecutor } from './executor';
import type { RetryPolicy } from './retry';
import { DEFAULT_BATCHES, type BatchOptions } from './backfill';
import type { Logger } from './logger';
import type { QualifiedName, SchemaModel, VersionView } from './schema-model';
import type { BackfillTotal, MigrationPhase, MigrationRecord, StateStore } from './state-store';
import type { Step } from './step';
import type { Throttle, ThrottlePause } from './throttle';
import { chooseWalkKey, missingWalkKey, walkKeySql, type WalkKey } from './walk-key';
import {
  committedView,
  introducedSince,
  liveViews,
  snapshot,
  syncSchemaSteps,
  versionSchemaName,
  type LiveMigration,
} from './version-schemas';

export interface MigrationStatus {
  name: string;
  phase: MigrationPhase;
  versionSchema: string | null;
  description: string | null;
  /** True when the file changed after it was applied. */
  modified: boolean;
  /** True when the state knows the migration but its file is gone. */
  missingFile: boolean;
  expandedAt: string | null;
  completedAt: string | null;
  rolledBackAt: string | null;
  error: string | null;
  /** Rows the backfills of the expand walked so far (under way or finished); null without a backfill. */
  backfilledRows: number | null;
  /**
   * The replication-lag pause a run of the migration is in (its backfill, backfill job or verification, at
   * expand, contract or `zmigrate backfill`), as last recorded; a killed run's stays until the next run of it.
   */
  throttled: ThrottlePause | null;
}

export interface PhasePlan {
  migration: string;
  phase: Phase;
  steps: Step[];
  /** Why planning stopped early (raw SQL whose effect only the database knows). */
  note?: string;
  /** The phase is half-done (a run stopped in it): `steps` are those still to run, which a rerun of it runs. */
  resuming?: true;
}

/** A table whose expanded shape is built by copy (TableRebuild): its shadow, retired name, key log and copied columns. */
interface Rebuild extends RebuildTables {
  /** The columns copied as they are. */
  columns: string[];
  /** Each chunk's rows are locked before the copy, by a statement of their own. */
  lockFirst: boolean;
  /** The key the copy walks. */
  key: string[];
}

/** What `zmigrate backfill` did for one migration. */
export interface BackfillResult {
  name: string;
  /** The rows verification found wrong, in words; null when it found none (or there was no verification). */
  mismatches: string | null;
  /** Whether every verification the migration has ran (false where it has none: a backfill job alone). */
  verified: boolean;
  /** Whether it filled rows (or ran the backfill job); false where it only verified. */
  filled: boolean;
  /**
   * Columns (`people.middle_name`) whose NULLs it did not fill again: the
   * backfill finished at expand, and the new app may have written them.
   */
  notRefilled: string[];
}

const LIVE: readonly MigrationPhase[] = ['expanding', 'expanded', 'contracting', 'rolling back'];

/** A chunk's key condition as a plan shows it: `(key) BETWEEN ? AND ?`. */
function keyBetween(key: string): Bound {
  return bound`(${key}) BETWEEN ${param(null)} AND ${param(null)}`;
}

/** A plan's note: what planning could not show, its reasons joined; none where there is none. */
function notes(...reasons: Array<string | undefined>): { note?: string } {
  const given = reasons.filter((r): r is string => r !== undefined);
  return given.length > 0 ? { note: given.join('; ') } : {};
}

/** A step that runs the migration file's own phase function. */
function customStep(phase: 'expand' | 'contract' | 'rollback'): Step {
  return {
    description: `custom ${phase} step`,
    sql: `-- the migration's ${phase} function (TypeScript)`,
    transactional: false,
    locks: true,
    custom: phase,
  };
}

/**
 * An operation on a table the version before it knows (an earlier operation of
 * the migration creates it) that is not in the database: the expand stopped
 * before that table was made, so this operation never ran. Raw SQL and the
 * creation itself undo what they can whatever is there.
 */
function neverReached(operation: Operation, view: VersionView, model: SchemaModel): boolean {
  if (operation.kind === 'createTable' || operation.opaque) return false;
  const table = (operation as Operation & { table?: unknown }).table;
  const source = typeof table === 'string' ? view.table(table)?.source : undefined;
  return source !== undefined && model.table(source) === undefined;
}

/**
 * The phase state machine. Every public method assumes the caller holds the
 * runner lock (except plan and status, which change nothing).
 */
export class Runner {
  readonly #executor: StepExecutor;
  /** What the server said of the defaults of columns that migrations not yet complete add (probeDefaults). */
  readonly #probedDefaults = new Map<string, boolean>();
  /** What the server said this run of the expressions operations asked about (Dialect.mutable), by row query, expression and type. */
  readonly #mutable = new Map<string, boolean | undefined>();
  #toProbe: Array<{ type: string; default?: string }> | undefined;
  /** Aborted when the run is asked to stop (a signal): it stops before the next migration, step or batch. */
  readonly #signal: AbortSignal | undefined;
  /** Pauses batch work while replicas lag; its pauses are recorded for `zmigrate status` (recordingPauses). */
  readonly #throttle: Throttle | undefined;

  constructor(
    private readonly dialect: Dialect,
    private readonly store: StateStore,
    private readonly migrations: readonly LoadedMigration[],
    retry: RetryPolicy,
    private readonly logger: Logger,
    batches: BatchOptions = DEFAULT_BATCHES,
  ) {
    this.#signal = batches.signal;
    this.#throttle = batches.throttle;
    this.#executor = new StepExecutor(
      dialect,
      store,
      retry,
      logger,
      batches,
      (name) => this.migrations.find((m) => m.name === name)?.migration,
    );
  }

  /** Expands every pending migration in file order; resumes one left half-way. */
  async expand(): Promise<string[]> {
    const records = await this.checkedRecords();
    const done: string[] = [];
    for (const migration of this.migrations) {
      const record = records.get(migration.name);
      const phase = record?.phase ?? 'pending';
      if (phase === 'expanded' || phase === 'complete') continue;
      if (phase === 'contracting')
        throw new StateError(`${migration.name} is half-way through contract; run zmigrate contract to finish it`);
      if (phase === 'rolling back')
        throw new StateError(`${migration.name} is half-way through rollback; run zmigrate rollback to finish it`);
      this.stopBefore(migration);
      await this.recordingErrors(migration.name, () => this.expandOne(migration, record));
      done.push(migration.name);
    }
    return done;
  }

  /** Contracts every expanded migration in file order. */
  async contract(): Promise<string[]> {
    const records = await this.checkedRecords();
    // Refuse before contracting anything: an unfinished expand or rollback stops the whole run.
    for (const migration of this.migrations) {
      const record = records.get(migration.name);
      const phase = record?.phase ?? 'pending';
      if (phase === 'expanding' || phase === 'rolling back') {
        const last = record?.error ? ` (it stopped with: ${record.error})` : '';
        throw new StateError(
          `${migration.name} is ${phase}; run zmigrate ${phase === 'expanding' ? 'expand' : 'rollback'} to finish it first${last}`,
        );
      }
      if (phase === 'expanded' && record?.unverified) {
        throw new StateError(`${migration.name} cannot be contracted: ${record.unverified}`, {
          hint: 'fix those rows (or roll back), then run zmigrate backfill to verify again',
        });
      }
    }
    const done: string[] = [];
    for (const migration of this.migrations) {
      const phase = records.get(migration.name)?.phase ?? 'pending';
      if (phase !== 'expanded' && phase !== 'contracting') continue;
      this.stopBefore(migration);
      await this.recordingErrors(migration.name, () => this.contractOne(migration, records.get(migration.name)!));
      done.push(migration.name);
    }
    // Contract twice is fine (a rerun in CI); contract before any expand is a mistake, and so is contract before the expand of
    // the migrations left: the new app was deployed without them.
    if (done.length === 0 && ![...records.values()].some((r) => r.phase === 'complete')) {
      throw new StateError('nothing to contract: run zmigrate expand first');
    }
    const unexpanded = this.migrations.flatMap((m) => {
      const phase = records.get(m.name)?.phase ?? 'pending';
      return phase === 'pending' || phase === 'rolled back' ? [`${m.name} (${phase})`] : [];
    });
    if (done.length === 0 && unexpanded.length > 0) {
      throw new StateError(
        `nothing to contract: ${unexpanded.join(', ')} ${unexpanded.length === 1 ? 'is' : 'are'} not expanded; run zmigrate expand first`,
      );
    }
    return done;
  }

  /**
   * Resumes a half-done expand. Of an expanded migration, whose backfill
   * finished, fills again the rows still missing a value that the triggers
   * would give them (never a NULL the new app may have written: see
   * DualWrite.notRefilled), verifies every row again and re-runs the backfill job.
   */
  async backfill(): Promise<BackfillResult[]> {
    const records = await this.checkedRecords();
    const results: BackfillResult[] = [];
    for (const migration of this.migrations) {
      const record = records.get(migration.name);
      if (record?.phase === 'expanding' || record?.phase === 'expanded') this.stopBefore(migration);
      if (record?.phase === 'expanding') {
        await this.recordingErrors(migration.name, () => this.expandOne(migration, record));
        const after = new Map((await this.store.list()).map((r) => [r.name, r]));
        const verified = (await this.backfillSteps(migration, after)).steps.some((s) => s.verify);
        results.push({ name: migration.name, mismatches: null, verified, filled: true, notRefilled: [] });
      } else if (record?.phase === 'expanded') {
        const { steps, notRefilled } = await this.backfillSteps(migration, records);
        if (steps.length === 0 && notRefilled.length === 0) continue;
        this.logger.info(`backfill ${migration.name}`);
        const unverified = await this.recordingPauses(migration.name, () => this.#executor.runAgain(migration.name, steps));
        await this.store.update(migration.name, { unverified });
        results.push({
          name: migration.name,
          mismatches: unverified,
          verified: steps.some((s) => s.verify),
          filled: steps.some((s) => s.backfill || s.job),
          notRefilled,
        });
      }
    }
    return results;
  }

  /** The steps `zmigrate backfill` runs again for an expanded migration, and the columns it leaves unfilled. */
  private async backfillSteps(
    migration: LoadedMigration,
    records: Map<string, MigrationRecord>,
  ): Promise<{ steps: Step[]; notRefilled: string[] }> {
    const model = await this.introspect();
    const previous = this.previousView(model, records, migration.name);
    const next = previous.clone();
    for (const operation of migration.migration.operations) operation.shapeView(next, model);
    const dualWrites = await this.dualWrites(migration, model, previous, next, { live: true });
    return {
      steps: [
        ...this.dualWriteSteps(migration, dualWrites).filter((s) => s.backfill || s.verify),
        // The TypeScript job too, as contract's last pass runs it: its `where` finds the rows still unfilled.
        ...this.customExpandSteps(migration, model).filter((s) => s.job),
      ],
      notRefilled: dualWrites.flatMap((d) => d.notRefilled ?? []),
    };
  }

  /** Undoes the newest expanded, not yet contracted, migration. */
  async rollback(): Promise<string> {
    const records = await this.checkedRecords();
    const live = this.migrations.filter((m) => LIVE.includes(records.get(m.name)?.phase ?? 'pending'));
    const target = live.at(-1);
    if (!target) {
      const complete = this.migrations.filter((m) => records.get(m.name)?.phase === 'complete').at(-1);
      throw new StateError(
        complete
          ? `nothing to roll back: ${complete.name} is complete (contracted), and rollback only undoes an expanded migration`
          : 'nothing to roll back: no migration is expanded',
      );
    }
    const record = records.get(target.name)!;
    if (record.phase === 'contracting') {
      throw new StateError(`${target.name} is half-way through contract and cannot be rolled back; run zmigrate contract to finish it`);
    }
    await this.recordingErrors(target.name, () => this.rollbackOne(target, record, live.slice(0, -1)));
    return target.name;
  }

  async status(): Promise<MigrationStatus[]> {
    const exists = await this.store.exists();
    const records = new Map(exists ? (await this.store.list()).map((r) => [r.name, r]) : []);
    const backfilled = exists ? await this.store.backfills() : new Map<string, BackfillTotal>();
    const names = [...new Set([...this.migrations.map((m) => m.name), ...records.keys()])].sort();
    return names.map((name) => {
      const file = this.migrations.find((m) => m.name === name);
      const record = records.get(name);
      const applied = record && record.phase !== 'pending' && record.phase !== 'rolled back';
      return {
        name,
        phase: record?.phase ?? 'pending',
        versionSchema: record?.versionSchema ?? null,
        description: record?.description ?? file?.migration.description ?? null,
        modified: Boolean(file && applied && !sameFile(file, record.checksum)),
        missingFile: !file,
        expandedAt: record?.expandedAt?.toISOString() ?? null,
        completedAt: record?.completedAt?.toISOString() ?? null,
        rolledBackAt: record?.rolledBackAt?.toISOString() ?? null,
        error: record?.error ?? null,
        backfilledRows: backfilled.get(name)?.rows ?? null,
        throttled: record?.throttled ?? null,
      };
    });
  }

  /** The SQL each pending phase would run, computed without changing anything. */
  async plan(): Promise<PhasePlan[]> {
    const records = new Map((await this.store.exists()) ? (await this.store.list()).map((r) => [r.name, r]) : []);
    const model = await this.introspect();
    // The schema as it is, before planning changes the model: expressions are asked about over its columns.
    const physical = model.clone();
    const live = this.liveMigrations(model, records);
    const plans: PhasePlan[] = [];
    let view = liveViews(model, live).get(live.at(-1)?.name ?? '') ?? committedView(model, live);
    for (const migration of this.migrations) {
      const phase = records.get(migration.name)?.phase ?? 'pending';
      if (phase === 'complete') continue;
      if (phase === 'pending' || phase === 'rolled back') {
        refuseUnknownOptions(migration);
        const expandView = view.clone();
        const planned = await this.planChecked(migration, model, expandView, 0, { untilOpaque: false });
        const dualWrites = await this.dualWrites(migration, model, view, expandView, { physical });
        planned.steps.push(...this.dualWriteSteps(migration, dualWrites, await this.rebuilds(migration, dualWrites, model), model));
        const customExpand = await this.captured(migration, 'expand');
        planned.steps.push(...customExpand.steps, ...this.customExpandSteps(migration, model).filter((s) => s.job));
        const schemaSteps = [this.dialect.createSchema(versionSchemaName(this.dialect, migration.name))];
        for (const table of expandView.tables)
          schemaSteps.push(...this.dialect.replaceView(versionSchemaName(this.dialect, migration.name), table));
        plans.push({
          migration: migration.name,
          phase: 'expand',
          steps: [...planned.steps, ...schemaSteps],
          ...notes(planned.note, customExpand.note),
        });
        const contractModel = model.clone();
        const contract = this.planPhaseSteps(migration, contractModel, view.clone(), 'contract');
        const triggers = [...new Set(dualWrites.filter((d) => d.rules.length > 0).map((d) => d.table))];
        const customContract = await this.captured(migration, 'contract');
        contract.steps.unshift(
          ...customContract.steps,
          ...triggers.map((t) => this.dialect.dropTrigger(t, triggerName(migration.name, t))),
        );
        plans.push({ migration: migration.name, phase: 'contract', ...contract, ...notes(customContract.note) });
        const drops = triggers.map((t) => ({ table: t, step: this.dialect.dropTrigger(t, triggerName(migration.name, t)) }));
        plans.push(await this.rollbackPlan(migration, model.clone(), view.clone(), versionSchemaName(this.dialect, migration.name), drops));
        view = expandView;
      } else if (phase === 'expanded') {
        // The view of the live version before this one (by contract time, earlier migrations are contracted into it).
        const before = live.filter((m) => m.name < migration.name).at(-1)?.name ?? '';
        const previous = liveViews(model, live).get(before) ?? committedView(model, live);
        const contract = this.planPhaseSteps(migration, model.clone(), previous.clone(), 'contract');
        const customContract = await this.captured(migration, 'contract');
        contract.steps.unshift(...customContract.steps);
        const triggerDrops = await this.dropTriggerSteps(migration);
        plans.push({
          migration: migration.name,
          phase: 'contract',
          steps: this.withTriggerDrops(contract.steps, triggerDrops),
          ...notes(customContract.note),
        });
        const schema = records.get(migration.name)?.versionSchema ?? undefined;
        plans.push(await this.rollbackPlan(migration, model.clone(), previous, schema, triggerDrops));
      } else {
        plans.push(await this.resumePlan(migration, records.get(migration.name)!));
      }
    }
    return plans;
  }

  /** What a rerun would do for a phase a run left half-done (expanding, contracting, rolling back): its steps not yet done. */
  private async resumePlan(migration: LoadedMigration, record: MigrationRecord): Promise<PhasePlan> {
    const phase: Phase = record.phase === 'expanding' ? 'expand' : record.phase === 'contracting' ? 'contract' : 'rollback';
    const status = await this.store.stepStatus(migration.name, phase);
    const operations = migration.migration.operations.length;
    // Operations after raw SQL, and the dual-write triggers and backfills, are planned once the steps before them ran.
    const later =
      phase !== 'expand' || record.nextOperation > operations
        ? undefined
        : `${record.nextOperation < operations ? 'the operations after its raw SQL, then ' : ''}its dual-write triggers and backfills are planned once these have run`;
    return {
      migration: migration.name,
      phase,
      steps: record.steps.filter((_, seq) => status.get(seq) !== 'done'),
      resuming: true,
      ...notes(`${migration.name} is ${record.phase}: zmigrate ${phase} resumes it`, later),
    };
  }

  /** What rollback would run right after this migration's expand: the same steps rollbackOne plans. */
  private async rollbackPlan(
    migration: LoadedMigration,
    model: SchemaModel,
    previous: VersionView,
    versionSchema: string | undefined,
    triggerDrops: Array<{ table: string; step: Step }>,
  ): Promise<PhasePlan> {
    const { steps } = this.planPhaseSteps(migration, model, previous, 'rollback');
    const custom = await this.captured(migration, 'rollback');
    steps.unshift(...custom.steps);
    const schemaDrop = versionSchema ? [this.dialect.dropSchema(versionSchema)] : [];
    return {
      migration: migration.name,
      phase: 'rollback',
      steps: [...schemaDrop, ...this.withTriggerDrops(steps, triggerDrops)],
      ...notes(custom.note),
    };
  }

  // ── expand ────────────────────────────────────────────────────────────

  private async expandOne(migration: LoadedMigration, record: MigrationRecord | undefined): Promise<void> {
    const schema = versionSchemaName(this.dialect, migration.name);
    const fresh = !record || record.phase === 'pending' || record.phase === 'rolled back';
    /** The schema as read before the first step, while no step has run since. */
    let unchanged: SchemaModel | undefined;
    if (fresh) {
      refuseUnknownOptions(migration);
      // Validate everything up to the first raw SQL before changing anything.
      const model = await this.introspect();
      unchanged = model;
      const records = new Map((await this.store.list()).map((r) => [r.name, r]));
      const view = this.previousView(model, records, migration.name);
      const previous = view.clone();
      const planned = model.clone();
      await this.planChecked(migration, planned, view, 0, { untilOpaque: true });
      this.checkReshapes(migration, records);
      this.customExpandSteps(migration, planned);
      const dualWrites = await this.dualWrites(migration, planned, previous, view, { physical: model });
      await this.checkExpressions(migration, dualWrites, model, planned, [previous, view]);
      // An operation that needs its table rebuilt is refused here where it cannot be.
      await this.rebuilds(migration, dualWrites, planned, true);
      if ((await this.dialect.schemaExists(schema)) && record?.versionSchema !== schema) {
        throw new ValidationError(migration.name, `a schema named ${JSON.stringify(schema)} already exists and was not made by zmigrate`, {
          hint: 'drop or rename it, or rename the migration file',
        });
      }
      await this.store.clearSteps(migration.name);
      await this.store.startExpand(migration.name, {
        checksum: migration.checksum,
        description: migration.migration.description ?? null,
        baseline: snapshot(model),
      });
      this.logger.info(`expand ${migration.name}`);
    } else {
      this.logger.info(`expand ${migration.name} (resuming)`);
    }

    await this.runPlannedInStages(migration, 'expand', unchanged);

    const baseline = (await this.store.get(migration.name))!.baseline ?? {};
    const expanded = await this.introspect();
    const introduced = introducedSince(expanded, baseline);
    await this.store.update(migration.name, { versionSchema: schema, introduced });
    const records = new Map((await this.store.list()).map((r) => [r.name, r]));
    await this.syncVersionSchemas(migration.name, 'expand', records, expanded);
    await this.store.update(migration.name, {
      phase: 'expanded',
      expandedAt: new Date(),
      error: null,
      steps: [],
      nextOperation: migration.migration.operations.length,
    });
    // The expand's step records stay until contract or rollback: status shows the backfill from them.
  }

  /**
   * Runs stored steps, then plans the next operations (after raw SQL, from a
   * fresh look at the database). `unchanged` is the schema as read before
   * the expand began, when no step has run since: the first stage plans on
   * it rather than reading it again.
   */
  private async runPlannedInStages(migration: LoadedMigration, phase: 'expand', unchanged?: SchemaModel): Promise<void> {
    const operations = migration.migration.operations;
    for (let known = unchanged?.clone(); ; known = undefined) {
      const record = (await this.store.get(migration.name))!;
      if (record.steps.length > 0) known = undefined;
      await this.#executor.runPhase(migration.name, phase, record.steps);
      if (record.nextOperation > operations.length) return;
      const model = known ?? (await this.introspect());
      if (record.nextOperation === operations.length) {
        // Last stage: the dual-write triggers, then the backfill of the rows already there.
        const records = new Map((await this.store.list()).map((r) => [r.name, r]));
        const previous = this.previousView(model, records, migration.name);
        const next = previous.clone();
        for (const operation of operations) operation.shapeView(next, model);
        const dualWrites = await this.dualWrites(migration, model, previous, next);
        const steps = [
          ...this.dualWriteSteps(migration, dualWrites, await this.rebuilds(migration, dualWrites, model), model),
          ...this.customExpandSteps(migration, model),
        ];
        await this.store.update(migration.name, { steps: [...record.steps, ...steps], nextOperation: operations.length + 1 });
        continue;
      }
      const records = new Map((await this.store.list()).map((r) => [r.name, r]));
      const view = this.previousView(model, records, migration.name);
      for (const operation of operations.slice(0, record.nextOperation)) operation.shapeView(view, model);
      const planned = await this.planChecked(migration, model, view, record.nextOperation, { untilOpaque: true });
      await this.store.update(migration.name, { steps: [...record.steps, ...planned.steps], nextOperation: planned.next });
    }
  }

  /**
   * Plans the expand steps of operations from `from` on, updating model and
   * view. With untilOpaque, stops after the first raw-SQL operation.
   */
  private planOperations(
    migration: LoadedMigration,
    model: SchemaModel,
    view: VersionView,
    from: number,
    phase: 'expand',
    options: { untilOpaque: boolean; validate: boolean; keptDefaults?: KeptDefault[] },
  ): { steps: Step[]; next: number; note?: string } {
    const operations = migration.migration.operations;
    if (options.validate && from === 0) checkOperationOrder(migration.name, operations, model);
    const steps: Step[] = [];
    for (let i = from; i < operations.length; i++) {
      const operation = operations[i];
      const ctx: PlanContext = {
        dialect: this.dialect,
        migration: migration.name,
        model,
        view,
        probedDefaults: this.#probedDefaults,
        keptDefaults: options.keptDefaults,
      };
      if (options.validate) operation.validate(ctx);
      const own = operation[phase](ctx);
      steps.push(...(operation.opaque ? own.map((s) => ({ ...s, rawSqlOf: i })) : own));
      operation.shapeView(view, model);
      if (operation.opaque && options.untilOpaque) return { steps, next: i + 1 };
      if (operation.opaque && i + 1 < operations.length) {
        // In a dry run, later operations are checked against the schema as known before the raw SQL.
        try {
          const rest = this.planOperations(migration, model, view, i + 1, phase, { ...options, untilOpaque: false });
          return { steps: [...steps, ...rest.steps], next: operations.length, note: rest.note };
        } catch (error) {
          if (!(error instanceof ValidationError)) throw error;
          return { steps, next: operations.length, note: `operations after raw SQL are planned when it has run (${error.message})` };
        }
      }
    }
    return { steps, next: operations.length };
  }

  // ── contract ──────────────────────────────────────────────────────────

  private async contractOne(migration: LoadedMigration, record: MigrationRecord): Promise<void> {
    if (record.phase === 'expanded') {
      this.logger.info(`contract ${migration.name}`);
      const records = new Map((await this.store.list()).map((r) => [r.name, r]));
      const model = await this.introspect();
      const live = this.liveMigrations(model, records);
      const view = committedView(model, live);
      const refreshViews = (after: SchemaModel): Step[] =>
        [...liveViews(after, live)].flatMap(([name, v]) => {
          const schema = records.get(name)?.versionSchema;
          return schema ? v.tables.flatMap((table) => this.dialect.replaceView(schema, table)) : [];
        });
      // Planned (and checked against the schema as it is now) before anything changes.
      const { steps } = this.planPhaseSteps(migration, model, view, 'contract', undefined, refreshViews);
      if (migration.migration.contract) steps.unshift(customStep('contract'));
      // A last pass of the backfill job catches rows the old app wrote after it ran (its `where` finds them).
      steps.unshift(...this.customExpandSteps(migration, model).filter((s) => s.job));
      // Versions older than this one are no longer served: the new app is fully rolled out.
      for (const older of this.migrations) {
        if (older.name >= migration.name) break;
        const schema = records.get(older.name)?.versionSchema;
        if (schema) {
          await this.#executor.runUnrecorded(migration.name, 'contract', [this.dialect.dropSchema(schema)]);
          await this.store.update(older.name, { versionSchema: null });
        }
      }
      const swap = this.withTriggerDrops(steps, await this.dropTriggerSteps(migration));
      await this.store.clearSteps(migration.name, 'contract');
      await this.store.update(migration.name, { phase: 'contracting', steps: swap });
    } else {
      this.logger.info(`contract ${migration.name} (resuming)`);
    }
    const current = (await this.store.get(migration.name))!;
    await this.#executor.runPhase(migration.name, 'contract', current.steps);
    await this.store.update(migration.name, { phase: 'complete', completedAt: new Date(), error: null, steps: [] });
    await this.store.clearSteps(migration.name);
    await this.syncVersionSchemas(migration.name, 'contract', new Map((await this.store.list()).map((r) => [r.name, r])));
  }

  /** Contract or rollback steps of every operation: contract in order, rollback in reverse. */
  private planPhaseSteps(
    migration: LoadedMigration,
    model: SchemaModel,
    previous: VersionView,
    phase: 'contract' | 'rollback',
    planned = migration.migration.operations.length,
    refreshViews?: (model: SchemaModel) => Step[],
    /** Raw SQL operations (by index) whose expand never started: nothing of theirs to undo. */
    unrun: ReadonlySet<number> = new Set(),
  ): { steps: Step[] } {
    const operations = migration.migration.operations.slice(0, planned);
    // The view each operation was planned against at expand: the one before, shaped by the operations before it.
    const views: VersionView[] = [];
    let view = previous.clone();
    for (const operation of operations) {
      views.push(view);
      view = view.clone();
      operation.shapeView(view, model);
    }
    const order = phase === 'contract' ? operations.map((_, i) => i) : operations.map((_, i) => operations.length - 1 - i);
    const steps: Step[] = [];
    for (const i of order) {
      // An expand that stopped before the operation creating a table left nothing on it to undo.
      if (phase === 'rollback' && (unrun.has(i) || neverReached(operations[i], views[i], model))) continue;
      const ctx: PlanContext = {
        dialect: this.dialect,
        migration: migration.name,
        model,
        view: views[i],
        probedDefaults: this.#probedDefaults,
      };
      // Before anything of the contract runs: what came since expand and would stop it half-way.
      if (phase === 'contract') (operations[i] as Operation).checkContract?.(ctx);
      const planned = (operations[i] as Operation)[phase](ctx);
      const breaking = planned.filter((s) => s.breaksViews || s.swapsViews).at(-1);
      if (breaking && refreshViews) {
        const refresh = refreshViews(model).map((r) => r.sql);
        if (breaking.swapsViews) {
          // Recreate the views on the stand-in, before the statement that swaps the real object in.
          const statements = this.dialect.splitStatements(breaking.sql);
          breaking.sql = [...statements.slice(0, -1), ...refresh, ...statements.slice(-1)].join(';\n');
        } else {
          // Recreate the views in the same step, right after the statement that broke them.
          breaking.sql = [breaking.sql, ...refresh].join(';\n');
        }
      }
      steps.push(...planned);
    }
    return { steps };
  }

  // ── rollback ──────────────────────────────────────────────────────────

  private async rollbackOne(migration: LoadedMigration, record: MigrationRecord, before: LoadedMigration[]): Promise<void> {
    if (record.phase !== 'rolling back') {
      this.logger.info(`rollback ${migration.name}`);
      // Planned before anything changes: a plan that fails (a table renamed by hand) leaves the migration as it
      // was, its version schema too. The version schema goes first among the steps (its views would stop the
      // columns they read from being dropped), and the state stops naming it as the steps are recorded.
      const records = new Map((await this.store.list()).map((r) => [r.name, r]));
      const model = await this.introspect();
      const live = this.liveMigrations(model, records);
      const previous = liveViews(model, live).get(before.at(-1)?.name ?? '') ?? committedView(model, live);
      const planned = record.phase === 'expanding' ? record.nextOperation : migration.migration.operations.length;
      const unrun = record.phase === 'expanding' ? await this.rawSqlNotRun(migration.name, record.steps) : new Set<number>();
      const { steps } = this.planPhaseSteps(migration, model, previous, 'rollback', planned, undefined, unrun);
      if (migration.migration.rollback) steps.unshift(customStep('rollback'));
      // An expand stopped half-way through a rebuild leaves its shadow (and maybe the retired table).
      if (this.dialect.rebuild) steps.push(...(await this.dialect.rebuild.leftovers(triggerPrefix(migration.name))));
      const swap = this.withTriggerDrops(steps, await this.dropTriggerSteps(migration));
      const schemaDrop = record.versionSchema ? [this.dialect.dropSchema(record.versionSchema)] : [];
      await this.store.clearSteps(migration.name, 'rollback');
      await this.store.update(migration.name, { phase: 'rolling back', steps: [...schemaDrop, ...swap], versionSchema: null });
    } else {
      this.logger.info(`rollback ${migration.name} (resuming)`);
    }
    const current = (await this.store.get(migration.name))!;
    await this.#executor.runPhase(migration.name, 'rollback', current.steps);
    await this.store.update(migration.name, {
      phase: 'rolled back',
      rolledBackAt: new Date(),
      versionSchema: null,
      steps: [],
      nextOperation: 0,
      error: null,
    });
    await this.store.clearSteps(migration.name);
    await this.syncVersionSchemas(migration.name, 'rollback', new Map((await this.store.list()).map((r) => [r.name, r])));
  }

  /**
   * The raw SQL operations planned by an expand that stopped, none of whose
   * steps started: an expand that failed before them (or, with transactional
   * DDL, in them: their transaction rolled back) left nothing of theirs, and
   * their rollback SQL could fail on what is not there, or undo what was there
   * before (a DELETE of rows the expand's INSERT found already present).
   */
  private async rawSqlNotRun(migration: string, steps: readonly Step[]): Promise<Set<number>> {
    const status = await this.store.stepStatus(migration, 'expand');
    const planned = new Set(steps.flatMap((s) => (s.rawSqlOf === undefined ? [] : [s.rawSqlOf])));
    for (const [seq, s] of steps.entries()) if (s.rawSqlOf !== undefined && status.has(seq)) planned.delete(s.rawSqlOf);
    return planned;
  }

  // ── dual write ────────────────────────────────────────────────────────

  /**
   * The operations' dual-write rules, backfills and checks. Where one asks
   * whether an expression may give another value when computed again
   * (DualWriteContext.mutable), the server is asked, and the operations
   * planned again with its answers. `model` is the schema as planned;
   * `physical`, where it differs, as it is (the expressions are asked about
   * over the columns there, and typed NULLs for those still to come).
   */
  private async dualWrites(
    migration: LoadedMigration,
    model: SchemaModel,
    previous: VersionView,
    next: VersionView,
    options: { live?: boolean; physical?: SchemaModel } = {},
  ): Promise<DualWrite[]> {
    const asked = new Map<string, { row: string; expression: string; type: string }>();
    const mutable = (table: string, row: RowNames, expression: string, type: string): boolean | undefined => {
      const select = this.rowSelect(table, row, options.physical ?? model, model);
      const key = [select, expression, type].join('\u0000');
      if (this.#mutable.has(key)) return this.#mutable.get(key);
      asked.set(key, { row: select, expression, type });
      return undefined;
    };
    const ctx = {
      dialect: this.dialect,
      model,
      previous,
      next,
      probedDefaults: this.#probedDefaults,
      live: options.live ?? false,
      mutable,
    };
    const plan = () => migration.migration.operations.map((op) => op.dualWrite?.(ctx)).filter((d): d is DualWrite => d !== undefined);
    const first = plan();
    if (asked.size === 0 || !this.dialect.mutable) return first;
    for (const [key, { row, expression, type }] of asked) {
      const answer = await this.dialect.mutable(literalMarks(row), literalMarks(expression), literalMarks(type));
      // The server's test is broader than "gives another value": see namesChangingFunction.
      this.#mutable.set(key, answer === true ? namesChangingFunction(expression) : answer);
    }
    return plan();
  }

  /**
   * A query of no rows whose columns are `row` of `table`, to type-check an
   * expression over: the columns `physical` has, and a NULL of its planned
   * type for each column still to be made.
   */
  private rowSelect(table: string, row: RowNames, physical: SchemaModel, planned: SchemaModel): string {
    const q = (name: string) => this.dialect.quote(name);
    const projection = row
      .map(
        (c) =>
          (physical.column(table, c.source) ? q(c.source) : this.dialect.typedNull(planned.column(table, c.source)?.type ?? 'text')) +
          ` AS ${q(c.name)}`,
      )
      .join(', ');
    return `SELECT ${projection} FROM ${this.dialect.qualify(this.dialect.baseSchema, table)} LIMIT 0`;
  }

  /**
   * The schema as the dialect reads it, where the views that read a column
   * leave out zmigrate's own (those of the version schemas it recorded),
   * which it keeps up itself.
   */
  private async introspect(): Promise<SchemaModel> {
    await this.probeDefaults();
    const model = await this.dialect.introspect();
    const read = model.tables.flatMap((t): Array<{ views?: QualifiedName[] }> => [t, ...t.columns]).filter((r) => r.views);
    if (read.length === 0 || !(await this.store.exists())) return model;
    const ours = new Set((await this.store.list()).flatMap((r) => (r.versionSchema ? [r.versionSchema] : [])));
    for (const reader of read) {
      reader.views = reader.views!.filter((v) => !ours.has(v.schema));
      if (reader.views.length === 0) delete reader.views;
    }
    return model;
  }

  /**
   * Asks the server whether it would compute for each row the defaults of
   * the columns that migrations not yet complete add (see AddColumn), so
   * their plans follow what it would do. Planning reads the schema first, so
   * it comes after this. Each is asked once a run, except where the server
   * could not answer (a function or type the migration's raw SQL makes
   * first): asked again at the next planning.
   */
  private async probeDefaults(): Promise<void> {
    if (!this.dialect.probeDefault) return;
    if (!this.#toProbe) {
      const records = (await this.store.exists()) ? await this.store.list() : [];
      const complete = new Set(records.filter((r) => r.phase === 'complete').map((r) => r.name));
      // Only single SQL fragments: anything else is refused by the operation's validation, with its message.
      const fragment = (m: LoadedMigration, sql: string) => {
        try {
          checkSqlFragment(this.dialect, m.name, 'probed', sql);
          return true;
        } catch {
          return false;
        }
      };
      this.#toProbe = this.migrations
        .filter((m) => !complete.has(m.name))
        .flatMap((m) =>
          m.migration.operations.flatMap((op) =>
            (op.defaultsToProbe?.() ?? []).filter((d) => fragment(m, d.type) && (d.default === undefined || fragment(m, d.default))),
          ),
        );
    }
    for (const { type, default: value } of this.#toProbe) {
      const key = probedKey(type, value);
      if (this.#probedDefaults.has(key)) continue;
      const perRow = await this.dialect.probeDefault(type, value);
      if (perRow !== undefined) this.#probedDefaults.set(key, perRow);
    }
  }

  /**
   * Tables whose backfill is done by copying them into a shadow table and
   * swapping it in (see TableRebuild), with the columns the copy carries over;
   * and those an operation can change only so (DualWrite.shadow), which are
   * refused where the copy cannot be (before anything changes: expand asks
   * this first, `quiet`, of the schema the operations will leave).
   */
  private async rebuilds(
    migration: LoadedMigration,
    dualWrites: DualWrite[],
    model: SchemaModel,
    quiet = false,
  ): Promise<Map<string, Rebuild>> {
    const rebuild = this.dialect.rebuild;
    const result = new Map<string, Rebuild>();
    if (!rebuild) return result;
    const tables = new Set(dualWrites.flatMap((d) => [...d.backfill.map((b) => b.table), ...(d.shadow ? [d.table] : [])]));
    for (const table of tables) {
      const needs = dualWrites.filter((d) => d.table === table && d.shadow).map((d) => d.shadow!.what);
      const inPlace = (reason: string, log = true) => {
        if (needs.length > 0) {
          throw new ValidationError(
            migration.name,
            `${needs.join(', ')}: ${this.dialect.displayName} can add it only by rebuilding ${table} online (a copy and a swap), which zmigrate cannot do here: ${reason}`,
            {
              hint: 'put it in a migration of its own, or enforce the rule in the application, or add it with op.sql in a maintenance window',
            },
          );
        }
        if (log && !quiet) this.logger.info(`backfill of ${table} in place, not by copy: ${reason}`);
      };
      const blockers = await rebuild.blockers(table);
      if (blockers.length > 0) {
        inPlace(blockers.join('; '));
        continue;
      }
      const specs = dualWrites.flatMap((d) => d.backfill.filter((b) => b.table === table));
      // Filling a column's NULLs, never by copy: it would compute the column for every row, and the mirror would
      // leave out what the old app writes to it (and there are few rows to write, not the whole table).
      if (specs.some((b) => b.keepsValues)) {
        inPlace('setNotNull fills its NULLs in place', false);
        continue;
      }
      const computed = specs.flatMap((b) => Object.keys(b.set));
      // A copy keeps a row the mirror wrote first (ON DUPLICATE KEY), and the mirror replaces (REPLACE): a new
      // value that collides in a unique index over a filled column would silently cost a row. In place, the
      // write that collides fails instead.
      const unique = (model.table(table)?.indexes ?? []).filter((i) => i.unique && (i.uses ?? i.columns).some((c) => computed.includes(c)));
      if (unique.length > 0) {
        inPlace(`a unique index covers a column it fills (${unique.map((i) => i.name).join(', ')})`);
        continue;
      }
      const physical = model.table(table);
      const key = specs[0]?.key ?? (physical && chooseWalkKey(physical, false));
      if (!key || key === 'ctid') {
        inPlace(`it ${physical ? missingWalkKey(physical).reason : 'is not there'}`);
        continue;
      }
      const columns = (physical?.columns ?? []).filter((c) => !c.generated && !computed.includes(c.name)).map((c) => c.name);
      result.set(table, { ...rebuildTables(migration.name, table), columns, key, lockFirst: await rebuild.lockBeforeCopy(table) });
    }
    return result;
  }

  /** The migration's trigger for a table (named after it), on the table or on the shadow that will take its place. */
  private dualWriteTrigger(
    migration: LoadedMigration,
    table: string,
    on: string,
    rules: DualWriteRule[],
    options?: { rulesOnly?: boolean },
  ): Step {
    return this.dialect.createTrigger(
      on,
      triggerName(migration.name, table),
      rules,
      versionSchemaName(this.dialect, migration.name),
      options,
    );
  }

  /**
   * A batched UPDATE, in place or (a catch-up) of the shadow's rows whose keys
   * were logged (`sql` only shows it: the batches are run by runBackfill).
   */
  private backfillStep(description: string, backfill: BackfillSpec): Step {
    const set = Object.entries(backfill.set).map(([column, expression]) => `${this.dialect.quote(column)} = (${expression})`);
    const walked = `/* in batches by ${this.walkedBy(backfill.key)}${backfill.catchUp ? ` of ${backfill.catchUp.log}` : ''} */`;
    const update =
      backfill.catchUp && backfill.key !== 'ctid'
        ? this.dialect
            .rebuild!.catchUpChunk(backfill, keyBetween(walkKeySql(backfill.key, (c) => this.dialect.quote(c))), set)
            .map((s) => asWritten(s.sql))
        : [`UPDATE ${this.dialect.qualify(this.dialect.baseSchema, backfill.table)} SET ${set.join(', ')} WHERE ${backfill.where}`];
    return {
      description,
      sql: `${update.join(';\n')} ${walked}`,
      transactional: false,
      locks: false,
      backfill,
    };
  }

  /**
   * One trigger per table with every rule of the migration for it, then one
   * backfill per column (or one copy per table).
   *
   * Given the model (the expand's first run, not a rerun of its backfill),
   * a table's backfill may run under a trigger for inserts only, where an
   * UPDATE trigger would cost each row the backfill writes a lock of its own
   * (capabilities.updateTriggerLocksRows; a million rows: about a tenth of
   * the expand's time). The full trigger follows; its CREATE waits for the
   * writes under way, so every write after it runs the trigger, which until
   * the expand ends also fills again a row an app updated in the meantime,
   * and a redo over the table fills those no app touches again. Last, the
   * trigger's rules become the lasting ones. Not where a column the backfill
   * fills is read by a unique index (as a key column, in an expression or a
   * predicate) or a constraint: a value left stale until the redo could fail another write.
   */
  private dualWriteSteps(
    migration: LoadedMigration,
    dualWrites: DualWrite[],
    rebuilds: ReadonlyMap<string, Rebuild> = new Map(),
    model?: SchemaModel,
  ): Step[] {
    const byOperation = new Map<string, DualWriteRule[][]>();
    for (const d of dualWrites) byOperation.set(d.table, [...(byOperation.get(d.table) ?? []), d.rules]);
    const rules = new Map([...byOperation].map(([table, groups]) => [table, orderRules(groups)]));
    const steps: Step[] = [];
    const q = (name: string) => this.dialect.quote(name);
    const backfills = dualWrites.flatMap((d) => d.backfill);
    const deferred = new Set(
      [...rules.keys()].filter(
        (table) => model && !rebuilds.has(table) && this.mayDeferUpdates(model, table, rules.get(table)!, backfills),
      ),
    );
    for (const [table, tableRules] of rules) {
      // A rebuilt table's trigger goes on the shadow after the copy (below): the swap brings it to the table.
      if (tableRules.length === 0 || rebuilds.has(table)) continue;
      // Deferred: for inserts only until the backfill is done.
      const first = deferred.has(table) ? tableRules.map((r) => ({ ...r, onUpdate: undefined })) : tableRules;
      steps.push(this.dualWriteTrigger(migration, table, table, first));
    }
    for (const backfill of backfills.filter((b) => !rebuilds.has(b.table))) {
      steps.push(this.backfillStep(`backfill ${backfill.table}.${Object.keys(backfill.set).join(', ')}`, backfill));
    }
    for (const table of deferred) {
      const specs = backfills.filter((b) => b.table === table);
      // Until the expand ends no app of the new version writes, so a row whose filled columns are not what the
      // backfill would give them is one an app updated meanwhile: any update of it fills them again (wherever
      // it moves the row, which the redo might then not see).
      const row = (model!.table(table)?.columns ?? []).map((c) => ({ name: c.name, source: c.name }));
      const meanwhile = specs.flatMap((b) =>
        Object.entries(b.set).map(([target, expression]) => ({ target, expression, row, onUpdate: { holds: b.stale!, row } })),
      );
      steps.push(this.dualWriteTrigger(migration, table, table, [...rules.get(table)!, ...meanwhile]));
      for (const backfill of specs) {
        steps.push(
          this.backfillStep(`fill ${Object.keys(backfill.set).join(', ')} of the rows of ${table} updated during the backfill`, {
            ...backfill,
            // In the table's order, read at disk speed.
            key: this.dialect.rowAddress ? 'ctid' : backfill.key,
            where: backfill.stale!,
            redo: true,
          }),
        );
      }
    }
    /** Verifications that run before their table's rebuild: of what goes on its shadow (DualWrite.shadow). */
    const first = new Set(dualWrites.filter((d) => d.shadow && rebuilds.has(d.table)).flatMap((d) => d.verify ?? []));
    for (const [table, rebuild] of rebuilds) {
      const specs = backfills.filter((b) => b.table === table);
      // Nobody writes the new columns of the old table (no trigger there, no new app yet): every row needs them.
      const set = Object.fromEntries(specs.flatMap((b) => Object.entries(b.set)));
      const walkKey = rebuild.key;
      const shadowed = dualWrites.filter((d) => d.table === table && d.shadow);
      const filling = Object.keys(set).length > 0 ? `, filling ${Object.keys(set).join(', ')}` : '';
      const copy: BackfillSpec = {
        table,
        key: walkKey,
        set,
        where: '1 = 1',
        copy: {
          into: rebuild.shadow,
          columns: rebuild.columns,
          lockFirst: rebuild.lockFirst,
          checks: shadowed.flatMap((d) => d.verify ?? []),
        },
      };
      const key = walkKey.map(q).join(', ');
      const tableRules = rules.get(table) ?? [];
      steps.push(
        // The rows there already, checked before anything changes: a row that breaks what the shadow gets stops here.
        ...shadowed.flatMap((d) => (d.verify ?? []).map((v) => this.verifyStep(v))),
        this.dialect.rebuild!.createShadow(table, rebuild.shadow),
        ...shadowed.flatMap((d) => d.shadow!.steps(rebuild.shadow)),
        this.dialect.rebuild!.createKeyLog(rebuild.shadow, rebuild.log, walkKey),
        this.dialect.rebuild!.mirrorTriggers(table, rebuild.shadow, triggerName(migration.name, table), {
          columns: rebuild.columns,
          key: walkKey,
          log: rebuild.log,
        }),
        {
          description: `copy ${table} into ${rebuild.shadow}${filling}`,
          sql: `${this.dialect
            .rebuild!.copyChunk(copy, keyBetween(key))
            .map((s) => asWritten(s.sql))
            .join(';\n')} /* in batches by ${this.walkedBy(walkKey)} */`,
          transactional: false,
          locks: false,
          backfill: copy,
        },
        ...(tableRules.length > 0 ? [this.dualWriteTrigger(migration, table, rebuild.shadow, tableRules)] : []),
        // Rows the mirror wrote before that trigger was there lack their new columns; the log has their keys.
        ...specs.map((b) =>
          this.backfillStep(`fill ${Object.keys(b.set).join(', ')} of the rows written meanwhile into ${rebuild.shadow}`, {
            ...b,
            table: rebuild.shadow,
            catchUp: { log: rebuild.log },
          }),
        ),
        this.dialect.rebuild!.swap(table, rebuild.shadow, rebuild.retired),
        this.dialect.rebuild!.dropRetired(rebuild.retired, rebuild.log),
      );
    }
    for (const verify of dualWrites.flatMap((d) => d.verify ?? [])) if (!first.has(verify)) steps.push(this.verifyStep(verify));
    steps.push(...dualWrites.flatMap((d) => d.afterBackfill ?? []));
    // The rules that stay while the migration is live: an app of the new version may write once the expand ends.
    for (const table of deferred) steps.push(this.dualWriteTrigger(migration, table, table, rules.get(table)!, { rulesOnly: true }));
    return steps;
  }

  /** A chunked scan for the rows where `verify.mismatch` holds; any found stop the phase, named by their keys. */
  private verifyStep(verify: VerifySpec): Step {
    return {
      description: `verify ${verify.what}`,
      sql: `SELECT ${walkKeySql(verify.key, (c) => this.dialect.quote(c))} FROM ${this.dialect.qualify(this.dialect.baseSchema, verify.table)} WHERE ${verify.mismatch} /* in chunks by ${this.walkedBy(verify.key)} */`,
      transactional: false,
      locks: false,
      verify,
    };
  }

  /** See dualWriteSteps. */
  private mayDeferUpdates(model: SchemaModel, table: string, rules: DualWriteRule[], backfills: BackfillSpec[]): boolean {
    const specs = backfills.filter((b) => b.table === table);
    if (!this.dialect.capabilities.updateTriggerLocksRows || specs.length === 0 || !rules.some((r) => r.onUpdate)) return false;
    if (specs.some((b) => b.stale === undefined)) return false;
    const filled = specs.flatMap((b) => Object.keys(b.set));
    const fills = (columns: string[]) => columns.some((c) => filled.some((f) => this.dialect.rules.sameColumn(c, f)));
    const physical = model.table(table);
    if (!physical) return false;
    // Every column a unique index reads (`uses`): a partial index's predicate or an expression over a filled column
    // can make a stale value clash as a key column can.
    return (
      !physical.indexes.some((i) => i.unique && fills(i.uses ?? i.columns)) && !(physical.constraints ?? []).some((c) => fills(c.columns))
    );
  }

  /** For the plan: what a backfill or a verification walks. */
  private walkedBy(key: WalkKey): string {
    return key === 'ctid' ? 'ctid page ranges' : `key (${walkKeySql(key, (c) => this.dialect.quote(c))})`;
  }

  /**
   * Where the triggers go at contract and rollback. They must not disappear
   * while the columns they fill still need filling (a NOT NULL old column, a
   * CHECK on a helper): with transactional DDL, the trigger drops and every
   * structural step go in one transaction, after the steps that only prepare
   * (VALIDATE) or cannot run in one (CONCURRENTLY); elsewhere the preparing
   * steps (placeholder defaults for NOT NULL columns about to go) run first,
   * then each drop right before the first statement on its table, as a step of its own.
   */
  private withTriggerDrops(steps: Step[], drops: Array<{ table: string; step: Step }>): Step[] {
    if (drops.length === 0) return steps;
    if (this.dialect.capabilities.transactionalDdl) {
      const swap = [...drops.map((d) => d.step), ...steps.filter((s) => s.transactional && !s.prepares)];
      const tables = [...drops.map((d) => d.table), ...swap.flatMap((s) => (s.guard ? [s.guard.table] : []))];
      const combined: Step = {
        description: `swap to the final shape (${swap.map((s) => s.description).join('; ')})`,
        sql: swap.map((s) => s.sql).join(';\n'),
        transactional: true,
        locks: true,
        // Several tables: their locks are waited for together, not one after another while holding the first.
        ...(new Set(tables).size > 1 ? { lockTables: [...new Set(tables)] } : {}),
      };
      return [...steps.filter((s) => !s.transactional || s.prepares), combined];
    }
    const result = [...steps.filter((s) => s.prepares), ...steps.filter((s) => !s.prepares)];
    for (const drop of drops) {
      const first = result.findIndex((s) => s.guard?.table === drop.table && !s.backfill && !s.verify);
      // A step of its own: merged into that statement's step, it would be skipped with it where its guard holds
      // already (a rollback of an object an expand stopped before making), leaving triggers that fail every write.
      result.splice(Math.max(first, 0), 0, drop.step);
    }
    return result;
  }

  /**
   * What a custom phase would run, recorded by running it on a knex that
   * executes nothing; a note instead where it fails there, so that the plan
   * of every other phase and migration is still shown.
   */
  private async captured(migration: LoadedMigration, phase: 'expand' | 'contract' | 'rollback'): Promise<{ steps: Step[]; note?: string }> {
    const fn = migration.migration[phase];
    if (!fn) return { steps: [] };
    let statements: string[];
    try {
      statements = await captureCustomSql(this.dialect.sqlFlavour, phase, fn, {
        name: migration.name,
        versionSchema: versionSchemaName(this.dialect, migration.name),
      });
    } catch (error) {
      // A phase that reads rows (a count, a lookup) gets none and may fail on that, where on the database it would not.
      return {
        steps: [],
        note: `the TypeScript ${phase} phase of ${migration.name} is not shown: it failed on plan's recording knex, which runs nothing and returns no rows (${thrownMessage(error)})`,
      };
    }
    return { steps: statements.map((sql) => ({ description: `custom ${phase} step`, sql, transactional: false, locks: true })) };
  }

  /** The migration's own expand function and backfill job, after the operations (and their triggers and backfill). */
  private customExpandSteps(migration: LoadedMigration, model: SchemaModel): Step[] {
    const steps: Step[] = [];
    const definition = migration.migration;
    if (definition.expand) steps.push(customStep('expand'));
    const job = definition.backfill;
    if (job) {
      const table = model.table(job.table);
      if (!table) throw new ValidationError(migration.name, `backfill job: unknown table ${JSON.stringify(job.table)}`);
      // The job's batch writes rows back by their key: it needs columns that tell rows apart, not a row address.
      const key = chooseWalkKey(table, false);
      if (!key || key === 'ctid') {
        const missing = missingWalkKey(table);
        throw new ValidationError(
          migration.name,
          `backfill job: table ${JSON.stringify(job.table)} ${missing.reason}, which the job needs to walk it in batches`,
          { hint: missing.hint },
        );
      }
      const unknownColumn = (job.columns ?? []).find((column) => !model.column(job.table, column));
      if (unknownColumn !== undefined) {
        throw new ValidationError(
          migration.name,
          `backfill job: unknown column ${JSON.stringify(unknownColumn)} in table ${JSON.stringify(job.table)}`,
        );
      }
      if (job.where !== undefined) checkSqlFragment(this.dialect, migration.name, 'backfill job: where', job.where);
      steps.push({
        description: `backfill job on ${job.table}`,
        sql: `-- TypeScript backfill job over ${job.table}, in batches by ${this.walkedBy(key)}${job.where ? ` where ${job.where}` : ''}`,
        transactional: false,
        locks: false,
        job: { key },
      });
    }
    return steps;
  }

  /** Steps that remove the migration's triggers, first thing at contract and rollback. */
  private async dropTriggerSteps(migration: LoadedMigration): Promise<Array<{ table: string; step: Step }>> {
    const triggers = await this.dialect.listTriggers(triggerPrefix(migration.name));
    return triggers.map((t) => ({ table: t.table, step: this.dialect.dropTrigger(t.table, t.name) }));
  }

  /** Dual-write tables are the migration's alone until it is contracted; raw SQL goes in a migration of its own. */
  private checkReshapes(migration: LoadedMigration, records: Map<string, MigrationRecord>): void {
    const operations = migration.migration.operations;
    const ctx = { dialect: this.dialect, probedDefaults: this.#probedDefaults };
    const reshaped = operations.flatMap((op) => op.reshapes?.(ctx) ?? []);
    const named = operations.flatMap((op) => op.namesColumnsOf?.() ?? []);
    if (reshaped.length > 0 && operations.some((op) => op.opaque)) {
      throw new ValidationError(
        migration.name,
        'op.sql cannot share a migration with operations that reshape a table in place (renameTable, renameColumn, alterColumn, dropColumn, setNotNull, addColumn with up or with a default computed per row)',
        {
          hint: 'put the raw SQL in a migration of its own',
        },
      );
    }
    for (const other of this.migrations) {
      if (other.name === migration.name || !LIVE.includes(records.get(other.name)?.phase ?? 'pending')) continue;
      const busy = other.migration.operations.flatMap((op) => op.reshapes?.(ctx) ?? []);
      const clash = reshaped.find((t) => busy.some((b) => this.dialect.rules.sameTable(b, t)));
      if (clash !== undefined) {
        throw new ValidationError(
          migration.name,
          `table ${JSON.stringify(clash)} is still being changed by ${other.name}, which is expanded but not contracted`,
          {
            hint: `run zmigrate contract for ${other.name} first`,
          },
        );
      }
      // alterColumn and dropColumn drop a column at contract (a rename keeps it, and what names it follows).
      for (const dropped of other.migration.operations.flatMap((op) => op.columnsDroppedAtContract?.() ?? [])) {
        const reads = named.find((n) => this.dialect.rules.sameTable(n.table, dropped.table) && readsColumn(n.sql, dropped));
        if (reads === undefined) continue;
        throw new ValidationError(
          migration.name,
          `a check or partial index reads column ${JSON.stringify(dropped.column)} of table ${JSON.stringify(dropped.table)}, which ${other.name} (expanded, not contracted) replaces or drops: its contract would drop the column it was made on, and it with it`,
          { hint: `run zmigrate contract for ${other.name} first` },
        );
      }
    }
  }

  /**
   * planOperations with every check before anything changes: the operations'
   * validation, and then the server's word on each default an operation keeps
   * on a new type (refuseKeptDefaults).
   */
  private async planChecked(
    migration: LoadedMigration,
    model: SchemaModel,
    view: VersionView,
    from: number,
    options: { untilOpaque: boolean },
  ): Promise<{ steps: Step[]; next: number; note?: string }> {
    const keptDefaults: KeptDefault[] = [];
    const planned = this.planOperations(migration, model, view, from, 'expand', { ...options, validate: true, keptDefaults });
    await this.refuseKeptDefaults(migration, keptDefaults);
    return planned;
  }

  /**
   * Refuses a default that a column keeps on a new type which cannot take it
   * (text `'{}'` on jsonb, `'abc'` on an integer): contract would set it
   * after the trigger is gone, and fail there on every rerun.
   */
  private async refuseKeptDefaults(migration: LoadedMigration, kept: KeptDefault[]): Promise<void> {
    if (!this.dialect.refusesDefault) return;
    for (const { what, column, type, default: value } of kept) {
      const reason = await this.dialect.refusesDefault(column, type, value);
      if (reason === undefined) continue;
      throw new ValidationError(migration.name, `${what}: the column's default ${value} does not suit type ${type}: ${reason}`, {
        hint: 'give alterColumn a `default` of the new type',
      });
    }
  }

  /**
   * Type-checks every up/down expression on the server before anything changes,
   * so a bad expression is a clear error now, not a failing app write later.
   * `versions`: the views before and after the migration, whose version
   * schemas the apps writing meanwhile may be on.
   */
  private async checkExpressions(
    migration: LoadedMigration,
    dualWrites: DualWrite[],
    model: SchemaModel,
    planned: SchemaModel,
    versions: readonly VersionView[],
  ): Promise<void> {
    // The tables whose names resolve, on each of those search paths, to a view of that version schema.
    const [first, ...others] = versions;
    const shared = first.tables.filter((t) => others.every((v) => v.table(t.name)?.source === t.source));
    const viewed = (expression: string): VersionTable[] =>
      shared
        .filter((t) => namesIdentifier(expression, t.name))
        .map((t) => (model.table(t.source) ? { name: t.name, source: t.source } : { name: t.name }));
    for (const d of dualWrites) {
      for (const rule of d.rules) {
        const row = this.rowSelect(d.table, rule.row, model, planned);
        const sql = `SELECT (${rule.expression}) AS v FROM (${row}) AS _zm_row`;
        try {
          await this.dialect.knex.raw(literalMarks(sql));
        } catch (error) {
          if (this.dialect.classifyError(error) === 'permissionDenied') {
            throw privilegeError(this.dialect, error, `${migration.name} (expand): checking ${d.table}.${rule.target}`);
          }
          throw new ValidationError(
            migration.name,
            `expression ${JSON.stringify(rule.expression)} (for ${d.table}.${rule.target}) does not work on the server: ${message(error)}`,
            {
              cause: error,
              hint: 'up refers to columns by their old names, down by their new names',
            },
          );
        }
        // What the backfill writes, by an SQL UPDATE, which needs an assignment cast; a trigger's PL/pgSQL
        // assignment alone (a down) falls back to the text form, so text into an enum column works there.
        const backfilled = d.backfill.some((b) => Object.keys(b.set).includes(rule.target));
        const type = backfilled ? planned.column(d.table, rule.target)?.type : undefined;
        const mismatch =
          type &&
          (await this.dialect.notAssignable?.(
            literalMarks(row),
            literalMarks(rule.expression),
            literalMarks(rule.target),
            literalMarks(type),
          ));
        if (mismatch) {
          throw new ValidationError(
            migration.name,
            `expression ${JSON.stringify(rule.expression)} (for ${d.table}.${rule.target}) cannot fill it: ${mismatch}`,
            { hint: "cast it to the column's type in the expression" },
          );
        }
        const unreachable = await this.dialect.unreachableFromVersions?.(
          literalMarks(row),
          literalMarks(rule.expression),
          viewed(rule.expression),
        );
        if (unreachable) {
          throw new ValidationError(
            migration.name,
            `expression ${JSON.stringify(rule.expression)} (for ${d.table}.${rule.target}) fails where an app's search path is a version schema (${unreachable.reason}), and the dual-write triggers compute it in the writing app's session`,
            {
              hint: unreachable.qualified
                ? `name it with its schema: ${unreachable.qualified}`
                : `name the type or function with its schema (${this.dialect.baseSchema}.…)`,
            },
          );
        }
      }
    }
  }

  // ── shared ────────────────────────────────────────────────────────────

  /** A run asked to stop does not start the next migration. */
  private stopBefore(migration: LoadedMigration): void {
    if (this.#signal?.aborted) throw new InterruptedError({ before: migration.name });
  }

  /**
   * Keeps the last failure in the state, for `zmigrate status`; the error
   * still propagates. A failure an earlier run recorded is cleared as this
   * one starts: while it resumes, status shows it under way, not failed.
   */
  private async recordingErrors(name: string, work: () => Promise<void>): Promise<void> {
    if ((await this.store.get(name))?.error) await this.store.update(name, { error: null });
    try {
      await this.recordingPauses(name, work);
    } catch (error) {
      if (await this.store.get(name).catch(() => undefined)) {
        // Redacted: the state table is readable by anyone who may read the schema, and status prints it.
        const text = redactUrls(error instanceof Error ? error.message : String(error));
        await this.store.update(name, { error: text }).catch(() => undefined);
      }
      throw error;
    }
  }

  /**
   * Keeps the throttle's pause under way while `work` runs for migration
   * `name` in the state, for `zmigrate status`: set as a pause starts and
   * with each report (its reason redacted of URLs, as errors are: a
   * replica's error text may hold one), cleared as it ends and when `work`
   * ends, however it ends. A pause a killed run left is cleared first.
   */
  private async recordingPauses<T>(name: string, work: () => Promise<T>): Promise<T> {
    let recorded = Boolean((await this.store.get(name))?.throttled);
    const record = async (pause: ThrottlePause | undefined) => {
      recorded = pause !== undefined;
      await this.store.update(name, { throttled: pause ? { since: pause.since, reason: redactUrls(pause.reason) } : null });
    };
    if (recorded) await record(undefined);
    const unwatch = this.#throttle?.watch(record);
    try {
      return await work();
    } finally {
      unwatch?.();
      if (recorded) await record(undefined).catch(() => undefined);
    }
  }

  /**
   * Brings every version schema in line with the state: live versions and the
   * newest complete one. `model`: the schema as it is now, when the caller
   * has just read it.
   */
  private async syncVersionSchemas(
    current: string,
    phase: Phase,
    records: Map<string, MigrationRecord>,
    model?: SchemaModel,
  ): Promise<void> {
    model ??= await this.introspect();
    const live = this.liveMigrations(model, records);
    const views = liveViews(model, live);
    const latestComplete = this.migrations.filter((m) => records.get(m.name)?.phase === 'complete').at(-1);
    if (latestComplete && records.get(latestComplete.name)?.versionSchema) {
      views.set(latestComplete.name, committedView(model, live));
    }
    for (const [name, view] of views) {
      const schema = records.get(name)?.versionSchema;
      if (!schema) continue;
      await this.#executor.runUnrecorded(current, phase, await syncSchemaSteps(this.dialect, schema, view));
    }
    for (const [name, record] of records) {
      if (record.versionSchema && !views.has(name)) {
        await this.#executor.runUnrecorded(current, phase, [this.dialect.dropSchema(record.versionSchema)]);
        await this.store.update(name, { versionSchema: null });
      }
    }
  }

  /** The view the version before `name` has: the committed state shaped by live migrations before it. */
  private previousView(model: SchemaModel, records: Map<string, MigrationRecord>, name: string): VersionView {
    const live = this.liveMigrations(model, records, name);
    const before = live.filter((m) => m.name < name);
    return (
      liveViews(model, live)
        .get(before.at(-1)?.name ?? '')
        ?.clone() ?? committedView(model, live)
    );
  }

  private liveMigrations(model: SchemaModel, records: Map<string, MigrationRecord>, alsoLive?: string): LiveMigration[] {
    return this.migrations
      .filter((m) => m.name === alsoLive || LIVE.includes(records.get(m.name)?.phase ?? 'pending'))
      .map((m) => {
        const record = records.get(m.name);
        const phase = record?.phase ?? 'pending';
        const live = LIVE.includes(phase);
        const planned = phase === 'expanding' ? record!.nextOperation : live ? m.migration.operations.length : 0;
        const introduced =
          phase === 'expanding' && record?.baseline
            ? introducedSince(model, record.baseline)
            : (live && record?.introduced) || { tables: [], columns: [] };
        return { name: m.name, operations: m.migration.operations, planned, introduced };
      });
  }

  /** State rows, after checking they agree with the files (checksums, order, missing files). */
  private async checkedRecords(): Promise<Map<string, MigrationRecord>> {
    await this.store.ensure();
    const records = new Map((await this.store.list()).map((r) => [r.name, r]));
    const files = new Map(this.migrations.map((m) => [m.name, m]));
    let lastApplied: string | undefined;
    for (const [name, record] of records) {
      const applied = record.phase !== 'pending' && record.phase !== 'rolled back';
      if (!applied) continue;
      const file = files.get(name);
      if (!file) {
        if (record.phase !== 'complete') {
          throw new StateError(`migration ${name} is ${record.phase} but its file is missing from the migrations folder`, {
            hint: 'restore the file (zmigrate needs it to contract or roll back)',
          });
        }
      } else if (!sameFile(file, record.checksum)) {
        throw new StateError(`${file.file} was changed after it was applied (${record.phase}); applied migrations must not be edited`, {
          hint: 'restore the file, and put the new change in a new migration',
        });
      }
      if (!lastApplied || name > lastApplied) lastApplied = name;
    }
    for (const migration of this.migrations) {
      const phase = records.get(migration.name)?.phase ?? 'pending';
      if ((phase === 'pending' || phase === 'rolled back') && lastApplied && migration.name < lastApplied) {
        throw new StateError(`${migration.file} sorts before ${lastApplied}, which is already applied`, {
          hint: 'rename the new file so it sorts after every applied migration',
        });
      }
    }
    return records;
  }
}

/** Refuses to expand a migration whose file gives an option its builders do not take (see LoadedMigration.problems). */
function refuseUnknownOptions(migration: LoadedMigration): void {
  const problem = migration.problems?.[0];
  if (problem) throw new ValidationError(migration.name, problem, { hint: 'fix the option; the migration is not expanded with it' });
}

/**
 * Whether SQL over a table's row may read `column`: it names the column (or
 * its helper column), or the table itself (a whole-row reference, or a name
 * qualified by the table, which is read as such on the safe side).
 */
function readsColumn(sql: string, dropped: { table: string; column: string }): boolean {
  return [dropped.column, helperColumn(dropped.column), dropped.table].some((name) => namesIdentifier(sql, name));
}
