/**
 * Typed errors. The CLI maps each class to an exit code and prints
 * `message` as one line (plus `hint` when present); the stack only with --verbose.
 */

export type Phase = 'expand' | 'contract' | 'rollback';

const BRAND = Symbol.for('zmigrate.error');

export abstract class ZmigrateError extends Error {
  /** 1: a migration failed (or was stopped, see InterruptedError); 2: bad usage or bad input. */
  abstract readonly exitCode: 1 | 2;
  readonly hint?: string;

  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    const chain: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c)) chain.push(c.name);
    Object.defineProperty(this, BRAND, { value: chain });
  }

  /**
   * Migration files get their own copy of this module (the loader evaluates
   * them apart), so `instanceof` goes by class name, not by identity.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    const chain = (value as Record<symbol, unknown> | null)?.[BRAND];
    return Array.isArray(chain) && chain.includes(this.name);
  }
}

/** Bad command-line usage, bad URL, bad config file. */
export class ConfigError extends ZmigrateError {
  readonly exitCode = 2 as const;
}

/** A migration file that cannot be loaded or does not describe a valid migration. */
export class MigrationFileError extends ZmigrateError {
  readonly exitCode = 2 as const;
  constructor(
    readonly file: string,
    message: string,
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super(`${file}: ${message}`, options);
  }
}

/** The migration does not fit the database (unknown table, unknown column, …); nothing was changed. */
export class ValidationError extends ZmigrateError {
  readonly exitCode = 2 as const;
  constructor(
    readonly migration: string,
    message: string,
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super(`${migration}: ${message}`, options);
  }
}

/** The request does not fit the migrations' state (contract before expand, edited file, …). */
export class StateError extends ZmigrateError {
  readonly exitCode = 2 as const;
}

/** The server cannot be reached or refuses us (unreachable, wrong password, unknown database). */
export class ConnectionError extends ZmigrateError {
  readonly exitCode = 2 as const;
}

/** A statement of a migration failed on the server. The state is left resumable. */
export class MigrationError extends ZmigrateError {
  readonly exitCode = 1 as const;
  constructor(
    readonly migration: string,
    readonly phase: Phase,
    readonly statement: string | undefined,
    message: string,
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super(`${migration} (${phase}): ${message}`, options);
  }
}

/** The backfilled rows do not hold what up/down imply; contract refuses until they do. */
export class VerificationError extends MigrationError {}

/** A DDL statement kept failing to get its lock within lock_timeout after every retry. */
export class LockTimeoutError extends ZmigrateError {
  readonly exitCode = 1 as const;
}

/** Another zmigrate runner holds the runner lock and did not release it in time. */
export class RunnerLockError extends ZmigrateError {
  readonly exitCode = 1 as const;
}

/**
 * The database user lacks a privilege a step needs. Exit code 2, like a
 * refused password: the environment is wrong, not the migration. The state is
 * left resumable: grant the privilege and run the same command again.
 */
export class PrivilegeError extends ZmigrateError {
  readonly exitCode = 2 as const;
}

/** Replication lag kept the work paused longer than --throttle-max-wait; it stopped at its checkpoint and resumes on a rerun. */
export class ThrottleTimeoutError extends ZmigrateError {
  readonly exitCode = 1 as const;
}

/** Where an interrupted run stopped: in a migration after a walk's checkpoint, or before a step or a migration. */
export interface StopPoint {
  migration?: string;
  /** Rows behind the checkpoint of the walk (backfill, backfill job) that stopped. */
  rows?: number;
  /** The step (or, without a migration, the migration) the run stopped before, or the one it stopped in (a verification). */
  before?: string;
  during?: string;
}

/**
 * The run was asked to stop (MigratorOptions.signal: the CLI's SIGINT or
 * SIGTERM) and did, at a point it resumes from: after the batches in flight
 * committed with their checkpoint, or between steps. Exit code 1 for the API;
 * the CLI exits 128 + the signal's number, as a shell reports a process the
 * signal ended.
 */
export class InterruptedError extends ZmigrateError {
  readonly exitCode = 1 as const;
  constructor(readonly stopped: StopPoint) {
    const where =
      stopped.rows !== undefined
        ? `after ${stopped.rows} rows`
        : stopped.during !== undefined
          ? `during ${stopped.during}`
          : `before ${stopped.before ?? 'it began'}`;
    super(`interrupted: ${stopped.migration ? `${stopped.migration} stopped` : 'stopped'} ${where}`, {
      hint: 'run the same command again to resume',
    });
  }

  /** The same stop, placed in `migration` (walks do not know which migration runs them). */
  in(migration: string): InterruptedError {
    return this.stopped.migration ? this : new InterruptedError({ ...this.stopped, migration });
  }
}
