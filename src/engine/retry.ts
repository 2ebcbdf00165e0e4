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
export function backoff(policy: RetryPolicy, attempt: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}
