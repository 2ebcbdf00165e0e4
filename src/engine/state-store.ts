import type { Knex } from 'knex';
import { privilegeError } from './privileges';
import type { Dialect } from '../dialects/dialect';
import type { Phase } from '../errors';
import type { Step } from './step';
import type { BackfillCheckpoint } from './backfill';
import type { ThrottlePause } from './throttle';
import type { Introduced, Snapshot } from './version-schemas';

/** What a migration's expand backfills walked, from their checkpoints. */
export interface BackfillTotal {
  rows: number;
}

/** A migration's phase, as `zmigrate status` prints it. */
export type MigrationPhase = 'pending' | 'expanding' | 'expanded' | 'contracting' | 'complete' | 'rolling back' | 'rolled back';

export interface MigrationRecord {
  name: string;
  checksum: string;
  phase: MigrationPhase;
  description: string | null;
  versionSchema: string | null;
  /** The steps of the phase under way, planned when it started. */
  steps: Step[];
  /** The first operation not yet planned in the phase under way (operations after raw SQL are planned late). */
  nextOperation: number;
  /** Tables and columns before expand started, to tell what expand introduced. */
  baseline: Snapshot | null;
  /** What expand added (the previous version must not see it while the migration is live). */
  introduced: Introduced | null;
  error: string | null;
  /** Set when `zmigrate backfill` found rows that do not hold what up implies: contract refuses. */
  unverified: string | null;
  /** The throttle's pause a run of this migration is in (its backfill, job or verification waits for replicas), as last recorded. */
  throttled: ThrottlePause | null;
  expandedAt: Date | null;
  completedAt: Date | null;
  rolledBackAt: Date | null;
  updatedAt: Date | null;
}

export type StepStatus = 'running' | 'done';

/**
 * zmigrate's own bookkeeping: one row per migration, one per step of the
 * phase under way. Small on purpose (umzug's storage contract, plus steps).
 */
export class StateStore {
  constructor(private readonly dialect: Dialect) {}

  private get knex(): Knex {
    return this.dialect.knex;
  }

  private table(name: 'migrations' | 'steps', trx?: Knex.Transaction): Knex.QueryBuilder {
    const { schema, table } = this.dialect.stateTable(name);
    const k = trx ?? this.knex;
    return schema ? k.withSchema(schema).table(table) : k.table(table);
  }

  private schemaBuilder(name: 'migrations' | 'steps'): { builder: Knex.SchemaBuilder; table: string } {
    const { schema, table } = this.dialect.stateTable(name);
    return { builder: schema ? this.knex.schema.withSchema(schema) : this.knex.schema, table };
  }

  /** Creates the state tables if they are missing, or upgrades ones an older zmigrate made. Safe to call on every run. */
  async ensure(): Promise<void> {
    await this.dialect.ensureStateNamespace();
    const migrations = this.schemaBuilder('migrations');
    if (!(await migrations.builder.hasTable(migrations.table))) {
      await this.schemaBuilder('migrations').builder.createTable(migrations.table, (t) => {
        this.dialect.stateTableOptions(t);
        t.string('name', 191).primary();
        t.string('checksum', 64).notNullable();
        t.string('phase', 20).notNullable();
        t.text('description');
        t.string('version_schema', 128);
        t.text('steps', 'longtext');
        t.integer('next_operation').notNullable().defaultTo(0);
        t.text('baseline', 'longtext');
        t.text('introduced', 'longtext');
        t.text('error');
        t.text('unverified');
        t.text('throttled');
        t.timestamp('expanded_at', { useTz: true }).nullable();
        t.timestamp('completed_at', { useTz: true }).nullable();
        t.timestamp('rolled_back_at', { useTz: true }).nullable();
        t.timestamp('updated_at', { useTz: true }).nullable();
      });
    } else if (!(await this.schemaBuilder('migrations').builder.hasColumn(migrations.table, 'throttled'))) {
      // Made by a zmigrate from before pauses were recorded per migration.
      await this.schemaBuilder('migrations').builder.alterTable(migrations.table, (t) => t.text('throttled'));
    }
    const steps = this.schemaBuilder('steps');
    if (!(await steps.builder.hasTable(steps.table))) {
      await this.schemaBuilder('steps').builder.createTable(steps.table, (t) => {
        this.dialect.stateTableOptions(t);
        t.string('migration', 191).notNullable();
        t.string('phase', 20).notNullable();
        t.integer('seq').notNullable();
        t.string('status', 10).notNullable();
        t.text('checkpoint');
        t.timestamp('updated_at', { useTz: true }).nullable();
        t.primary(['migration', 'phase', 'seq']);
      });
    }
    await this.dialect.upgradeStateTables();
  }

  /**
   * False when zmigrate has never run on this database (status must not
   * create tables). Found by reading the state: knex's hasTable
   * asks information_schema, which lists only the tables the role has a
   * privilege on, so an app's role without one was told nothing had been
   * applied (`zmigrate status` all pending, `latestVersionSchema` "run
   * zmigrate expand first"). Such a role is told what it lacks instead.
   */
  async exists(): Promise<boolean> {
    try {
      await this.table('migrations').select('name').limit(1);
      return true;
    } catch (error) {
      const kind = this.dialect.classifyError(error);
      if (kind === 'unknownTable') return false;
      if (kind === 'permissionDenied') throw privilegeError(this.dialect, error, "reading zmigrate's state");
      throw error;
    }
  }

  /**
   * Every record, in the loader's order (by name, code point by code point):
   * an ORDER BY would follow the database's collation, under which `0002_b`
   * and `0002a` (or `00020`) may sort the other way round.
   */
  async list(): Promise<MigrationRecord[]> {
    const rows = (await this.table('migrations').select('*')) as Array<Record<string, unknown>>;
    return rows.map(toRecord).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The newest version schema recorded (migrations in file-name order), if
   * any; nothing is created. Not one of a migration still expanding: expand
   * records the name before it makes the schema's views, one by one.
   */
  async latestVersionSchema(): Promise<string | undefined> {
    if (!(await this.exists())) return undefined;
    return (await this.list()).filter((r) => r.versionSchema && r.phase !== 'expanding').at(-1)?.versionSchema ?? undefined;
  }

  async get(name: string): Promise<MigrationRecord | undefined> {
    const row = (await this.table('migrations').where({ name }).first()) as Record<string, unknown> | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Starts (or restarts) a migration's expand: one statement, so a crash leaves it either untouched or fully started. */
  async startExpand(name: string, values: { checksum: string; description: string | null; baseline: Snapshot }): Promise<void> {
    const row = {
      checksum: values.checksum,
      phase: 'expanding',
      description: values.description,
      baseline: JSON.stringify(values.baseline),
      steps: '[]',
      next_operation: 0,
      introduced: null,
      error: null,
      unverified: null,
      version_schema: null,
      updated_at: new Date(),
    };
    const updated = await this.table('migrations').where({ name }).update(row);
    if (!updated) await this.table('migrations').insert({ name, ...row });
  }

  async update(name: string, changes: Partial<Omit<MigrationRecord, 'name'>>, trx?: Knex.Transaction): Promise<void> {
    const values: Record<string, unknown> = { updated_at: new Date() };
    if (changes.checksum !== undefined) values.checksum = changes.checksum;
    if (changes.phase !== undefined) values.phase = changes.phase;
    if (changes.description !== undefined) values.description = changes.description;
    if (changes.versionSchema !== undefined) values.version_schema = changes.versionSchema;
    if (changes.steps !== undefined) values.steps = JSON.stringify(changes.steps);
    if (changes.nextOperation !== undefined) values.next_operation = changes.nextOperation;
    if (changes.error !== undefined) values.error = changes.error;
    if (changes.unverified !== undefined) values.unverified = changes.unverified;
    if (changes.throttled !== undefined) values.throttled = changes.throttled && JSON.stringify(changes.throttled);
    if (changes.baseline !== undefined) values.baseline = JSON.stringify(changes.baseline);
    if (changes.introduced !== undefined) values.introduced = JSON.stringify(changes.introduced);
    if (changes.expandedAt !== undefined) values.expanded_at = changes.expandedAt;
    if (changes.completedAt !== undefined) values.completed_at = changes.completedAt;
    if (changes.rolledBackAt !== undefined) values.rolled_back_at = changes.rolledBackAt;
    await this.table('migrations', trx).where({ name }).update(values);
  }

  /** Status of each step of a phase, by sequence number. */
  async stepStatus(migration: string, phase: Phase): Promise<Map<number, StepStatus>> {
    const rows = (await this.table('steps').where({ migration, phase }).select('seq', 'status')) as Array<{
      seq: number;
      status: StepStatus;
    }>;
    return new Map(rows.map((r) => [Number(r.seq), r.status]));
  }

  async markStep(migration: string, phase: Phase, seq: number, status: StepStatus, trx?: Knex.Transaction): Promise<void> {
    const updated = await this.table('steps', trx).where({ migration, phase, seq }).update({ status, updated_at: new Date() });
    if (!updated) await this.table('steps', trx).insert({ migration, phase, seq, status, updated_at: new Date() });
  }

  async loadCheckpoint(migration: string, phase: Phase, seq: number): Promise<BackfillCheckpoint | undefined> {
    const row = (await this.table('steps').where({ migration, phase, seq }).first('checkpoint')) as
      { checkpoint?: string | null } | undefined;
    return row?.checkpoint ? (JSON.parse(row.checkpoint, revivedBuffer) as BackfillCheckpoint) : undefined;
  }

  async saveCheckpoint(
    migration: string,
    phase: Phase,
    seq: number,
    checkpoint: BackfillCheckpoint,
    trx?: Knex.Transaction,
  ): Promise<void> {
    const values = { checkpoint: JSON.stringify(checkpoint), updated_at: new Date() };
    const updated = await this.table('steps', trx).where({ migration, phase, seq }).update(values);
    if (!updated) await this.table('steps', trx).insert({ migration, phase, seq, status: 'running', ...values });
  }

  /** Rows walked by each migration's expand backfills, from their checkpoints. */
  async backfills(): Promise<Map<string, BackfillTotal>> {
    const rows = (await this.table('steps')
      .where({ phase: 'expand' })
      .whereNotNull('checkpoint')
      .select('migration', 'checkpoint')) as Array<{
      migration: string;
      checkpoint: string;
    }>;
    const totals = new Map<string, BackfillTotal>();
    for (const r of rows) {
      const checkpoint = JSON.parse(r.checkpoint) as BackfillCheckpoint;
      if (checkpoint.redo) continue;
      const total = totals.get(r.migration) ?? { rows: 0 };
      total.rows += Number(checkpoint.rows ?? 0);
      totals.set(r.migration, total);
    }
    return totals;
  }

  async clearSteps(migration: string, phase?: Phase): Promise<void> {
    const q = this.table('steps').where({ migration });
    await (phase ? q.andWhere({ phase }) : q).delete();
  }
}

function toRecord(row: Record<string, unknown>): MigrationRecord {
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
  return {
    name: String(row.name),
    checksum: String(row.checksum),
    phase: row.phase as MigrationPhase,
    description: (row.description as string | null) ?? null,
    versionSchema: (row.version_schema as string | null) ?? null,
    steps: row.steps ? (JSON.parse(String(row.steps)) as Step[]) : [],
    nextOperation: Number(row.next_operation ?? 0),
    baseline: row.baseline ? (JSON.parse(String(row.baseline)) as Snapshot) : null,
    introduced: row.introduced ? (JSON.parse(String(row.introduced)) as Introduced) : null,
    error: (row.error as string | null) ?? null,
    unverified: (row.unverified as string | null) ?? null,
    // Absent from a state table an older zmigrate made, which status reads as it is.
    throttled: row.throttled ? (JSON.parse(String(row.throttled)) as ThrottlePause) : null,
    expandedAt: date(row.expanded_at),
    completedAt: date(row.completed_at),
    rolledBackAt: date(row.rolled_back_at),
    updatedAt: date(row.updated_at),
  };
}

/**
 * A key of a binary column, as JSON writes a Buffer (`{"type":"Buffer","data":[…]}`), read back as
 * a Buffer: as a plain object it would bind as a list of assignments (MySQL/MariaDB give a BINARY or
 * VARBINARY key as a Buffer), and a walk could not resume from it. A key is never an object otherwise.
 */
function revivedBuffer(_key: string, value: unknown): unknown {
  const buffer = value as { type?: unknown; data?: unknown } | null;
  return buffer !== null && typeof buffer === 'object' && buffer.type === 'Buffer' && Array.isArray(buffer.data)
    ? Buffer.from(buffer.data as number[])
    : value;
}
