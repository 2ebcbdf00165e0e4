import { LockWaitStopped } from '../dialects/dialect';
import type { Logger } from './logger';
import { sleepUnlessStopped } from './stop';

/** How DDL that ran out of time waiting for its lock is tried again. */
export interface RetryPolicy {
  /** How many times a statement that hit the lock timeout is tried again. */
  lockRetries: number;
  /** First backoff; doubled on each retry, with jitter, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { lockRetries: 10, baseDelayMs: 100, maxDelayMs: 5_000 };

/** The pause before retry `attempt` (from 1): exponential, between half of it and all of it (jitter). */
function backoff(policy: RetryPolicy, attempt: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/**
 * The retries of one piece of work that ran out of time waiting for a lock
 * (a step's DDL, a backfill's batch, the copy's last change), as the policy
 * allows, each one said as it starts:
 * `lock not granted in time for <what>[ (why it stopped)]; retry n/N in d ms`.
 */
export class LockRetries {
  #attempts = 0;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly logger: Logger,
    /** What waited, as the line names it: `"<step>"`, `a batch of <table>`. */
    private readonly what: string,
    /** A run asked to stop (a signal) does not sit out the backoff; the caller looks at it after again(). */
    private readonly signal?: AbortSignal,
  ) {}

  /** Retries taken so far. */
  get attempts(): number {
    return this.#attempts;
  }

  /** After a lock wait that ran out (`error`): false once no retry is left; otherwise says so, waits the backoff and returns true. */
  async again(error: unknown): Promise<boolean> {
    if (this.#attempts >= this.policy.lockRetries) return false;
    const delay = backoff(this.policy, ++this.#attempts);
    const stopped = error instanceof LockWaitStopped ? ` (${error.message})` : '';
    this.logger.warn(
      `lock not granted in time for ${this.what}${stopped}; retry ${this.#attempts}/${this.policy.lockRetries} in ${delay} ms`,
    );
    await sleepUnlessStopped(delay, this.signal);
    return true;
  }
}
