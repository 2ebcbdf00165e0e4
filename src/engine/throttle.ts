import { ThrottleTimeoutError } from '../errors';
import type { Logger } from './logger';
import { sleepUnlessStopped } from './stop';

/** What one replica's lag looks like at one moment. */
export interface ReplicaLag {
  /** Which replica, for messages (never with a password). */
  replica: string;
  /** The lag; a lower bound of it when `exact` is false. */
  lagMs: number;
  /** False when the replica is behind but has not reported how far yet: not a reason to carry on. */
  exact: boolean;
  /** Why the replica is not replicating at all (a stopped thread, no connection): always a reason to pause. */
  problem?: string;
}

/** Where lag readings come from: the primary's view of its replicas, or one replica given by URL. */
export interface LagSource {
  read(): Promise<ReplicaLag[]>;
  close(): Promise<void>;
}

export interface ThrottleOptions {
  /** Pause while any replica lags more than this; 0 turns the throttle off. */
  maxLagMs: number;
  /** Give up (resumably) after pausing this long at one stretch; 0 or undefined: wait as long as it takes. */
  maxWaitMs?: number;
  /** Lag is read at most this often; default 1 s. */
  checkEveryMs?: number;
  /** While paused, a line this often; default 5 s. */
  reportEveryMs?: number;
  /** Once aborted (the run is asked to stop), a pause ends at once, so the run can stop at its checkpoint. */
  signal?: AbortSignal;
}

export const DEFAULT_MAX_LAG_MS = 1500;

/** A pause under way: since when (ISO time) and why. */
export interface ThrottlePause {
  since: string;
  reason: string;
}

/**
 * Pauses batch work while replicas lag, as gh-ost does: called between
 * batches (never inside a transaction), it reads the lag at most once a
 * second and, above `maxLagMs`, waits until every replica is back under it.
 */
export class Throttle {
  readonly #sources: readonly LagSource[];
  readonly #options: Required<Omit<ThrottleOptions, 'signal'>>;
  readonly #signal: AbortSignal | undefined;
  readonly #logger: Logger;
  #lastCheck = 0;
  /** The check (and pause) under way, which every caller waits for. */
  #checking: Promise<void> | undefined;
  readonly #watchers = new Set<(pause: ThrottlePause | undefined) => Promise<void>>();

  constructor(sources: readonly LagSource[], options: ThrottleOptions, logger: Logger) {
    this.#sources = options.maxLagMs > 0 ? sources : [];
    const { signal, ...rest } = options;
    this.#options = { maxWaitMs: 0, checkEveryMs: 1000, reportEveryMs: 5000, ...rest };
    this.#signal = signal;
    this.#logger = logger;
  }

  /** A throttle that never pauses. */
  static readonly off = new Throttle([], { maxLagMs: 0 }, { info() {}, step() {}, warn() {} });

  get active(): boolean {
    return this.#sources.length > 0;
  }

  /**
   * Calls `watcher` when a pause starts, again with each "still throttled"
   * report (the reason may have changed), and with undefined when it ends
   * (or gives up), so the run can record it for `zmigrate status`. Returns
   * the function that stops watching.
   */
  watch(watcher: (pause: ThrottlePause | undefined) => Promise<void>): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  async #tell(pause: ThrottlePause | undefined): Promise<void> {
    for (const watcher of this.#watchers) await watcher(pause);
  }

  /**
   * Returns at once unless a replica lags too far; then waits until none does
   * (or maxWaitMs passes, or the run is asked to stop). Callers side by side
   * (backfill jobs) share one check and one pause: none goes on while another
   * has found the lag too high.
   */
  wait(): Promise<void> {
    if (this.#checking) return this.#checking;
    if (!this.active || this.#signal?.aborted || Date.now() - this.#lastCheck < this.#options.checkEveryMs) return Promise.resolve();
    this.#checking = this.#check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async #check(): Promise<void> {
    let readings = await this.#read();
    let reason = this.#reasonToPause(readings);
    if (!reason) return;
    const { maxLagMs, maxWaitMs, checkEveryMs, reportEveryMs } = this.#options;
    const started = Date.now();
    let reported = started;
    this.#logger.warn(`throttling: ${reason}; paused until every replica lags ≤ ${seconds(maxLagMs)}`);
    await this.#tell({ since: new Date(started).toISOString(), reason });
    for (;;) {
      const paused = Date.now() - started;
      if (maxWaitMs > 0 && paused >= maxWaitMs) {
        await this.#tell(undefined);
        throw new ThrottleTimeoutError(`replication lag stayed above ${seconds(maxLagMs)} for ${seconds(paused)} (${reason})`, {
          hint: 'the work stopped at its last checkpoint: run the same command again to resume, or raise --throttle-max-wait',
        });
      }
      await sleepUnlessStopped(checkEveryMs, this.#signal);
      if (this.#signal?.aborted) {
        // The run stops where it is: it is no longer paused.
        await this.#tell(undefined);
        return;
      }
      readings = await this.#read();
      reason = this.#reasonToPause(readings);
      if (!reason) {
        const worst = Math.max(0, ...readings.map((r) => r.lagMs));
        this.#logger.warn(`throttle lifted: replication lag ${seconds(worst)}; resuming after ${seconds(Date.now() - started)} paused`);
        await this.#tell(undefined);
        return;
      }
      if (Date.now() - reported >= reportEveryMs) {
        reported = Date.now();
        this.#logger.warn(`still throttled after ${seconds(reported - started)}: ${reason}`);
        await this.#tell({ since: new Date(started).toISOString(), reason });
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#sources.map((s) => s.close().catch(() => undefined)));
  }

  async #read(): Promise<ReplicaLag[]> {
    this.#lastCheck = Date.now();
    return (await Promise.all(this.#sources.map((s) => s.read()))).flat();
  }

  /** Why to pause, or undefined when every replica is known to be within maxLagMs. */
  #reasonToPause(readings: ReplicaLag[]): string | undefined {
    const max = this.#options.maxLagMs;
    const reasons = readings.flatMap((r) => {
      if (r.problem) return [`replica ${r.replica}: ${r.problem}`];
      if (!r.exact) return [`replica ${r.replica} is behind and not catching up, lag unknown (≥ ${seconds(r.lagMs)})`];
      if (r.lagMs > max) return [`replica ${r.replica} lags ${seconds(r.lagMs)} > ${seconds(max)}`];
      return [];
    });
    return reasons.length > 0 ? reasons.join('; ') : undefined;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
