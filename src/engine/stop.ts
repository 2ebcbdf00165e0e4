import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits `ms`, or less once `signal` aborts (a run asked to stop does not sit
 * out a batch delay or a throttle's next look first). It never throws: the
 * caller looks at the signal and stops where it is safe to.
 */
export function sleepUnlessStopped(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return sleep(ms, undefined, signal ? { signal } : undefined).catch(() => undefined);
}
