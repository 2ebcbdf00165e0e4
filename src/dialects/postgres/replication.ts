import knexFactory, { type Knex } from 'knex';
import type { LagSource, ReplicaLag } from '../../engine/throttle';
import { parseReplicaUrl, ReplicaSockets, replicaError } from '../replica';

/** The primary's WAL position (flushed) at a moment (ms since the epoch, on the primary's clock). */
export interface WalSample {
  at: number;
  lsn: bigint;
}

const HISTORY_MS = 15 * 60_000;

/**
 * The primary's view of its physical replicas (pg_stat_replication). A
 * replica reports the position it has replayed, and `replay_lag` only moves
 * when that position passes WAL the primary timed: while a replica is stuck,
 * replay_lag keeps its last value, or NULL after an idle spell. So a replica
 * behind the primary counts as lagging `replay_lag` only while its replay
 * position moves between two reads (a second apart, batches running in
 * between); one that stays put is stuck, its lag unknown, which is no reason
 * to carry on. The primary's own WAL position is sampled on every read to
 * bound that lag: a replica that, when it last reported, had not replayed WAL
 * that existed at time t lags at least since t.
 */
export class PrimaryReplicationLag implements LagSource {
  readonly #samples: WalSample[] = [];
  /** Each walsender's replay position at the previous read. */
  #replayed = new Map<string, bigint>();
  #unreadable = false;

  constructor(
    private readonly knex: Knex,
    private readonly warn: (message: string) => void,
  ) {}

  async read(): Promise<ReplicaLag[]> {
    const result = await this.knex.raw(`
      SELECT r.pid::text AS pid, r.application_name, host(r.client_addr) AS client_addr, r.state,
             r.write_lsn::text AS write_lsn, r.replay_lsn::text AS replay_lsn,
             pg_current_wal_flush_lsn()::text AS flush_lsn, EXTRACT(EPOCH FROM r.replay_lag) * 1000 AS replay_lag_ms,
             EXTRACT(EPOCH FROM r.reply_time) * 1000 AS reply_ms, EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS now_ms
        FROM pg_stat_replication r
       WHERE r.state IS DISTINCT FROM 'backup'
         AND NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.active_pid = r.pid AND s.slot_type = 'logical')`);
    const rows = (result as { rows: Array<Record<string, string | null>> }).rows;
    if (rows.length === 0) return [];
    const now = Number(rows[0].now_ms);
    const flush = lsn(rows[0].flush_lsn!);
    this.#remember({ at: now, lsn: flush });
    const readings: ReplicaLag[] = [];
    const previous = this.#replayed;
    this.#replayed = new Map();
    for (const row of rows) {
      if (row.replay_lsn === null && row.state === null) {
        // Without pg_monitor (pg_read_all_stats) the positions read as NULL.
        if (!this.#unreadable)
          this.warn(
            'cannot read replica positions in pg_stat_replication (grant pg_monitor to the migration user); not throttling on them',
          );
        this.#unreadable = true;
        continue;
      }
      // A WAL receiver that never replays (pg_receivewal, Barman, pg_basebackup -X stream) reports where it wrote
      // but never a replay position; a standby reports one from its first reply. No app reads from it: left out.
      if (row.replay_lsn === null && row.write_lsn !== null) continue;
      const replica = `${row.application_name || 'walreceiver'}@${row.client_addr ?? 'local'}`;
      if (row.replay_lsn === null) {
        readings.push({
          replica,
          lagMs: 0,
          exact: false,
          problem: row.state === 'streaming' ? undefined : `state ${row.state}, nothing replayed yet`,
        });
        continue;
      }
      const replayed = lsn(row.replay_lsn);
      this.#replayed.set(row.pid!, replayed);
      if (replayed >= flush) {
        readings.push({ replica, lagMs: 0, exact: true });
        continue;
      }
      const bound = unreplayedFor(this.#samples, replayed, row.reply_ms === null ? undefined : Number(row.reply_ms), now);
      const reported = row.replay_lag_ms === null ? undefined : Number(row.replay_lag_ms);
      // At the first read there is nothing to compare with: the next one, after some batches, tells.
      const before = previous.get(row.pid!);
      const exact = before === undefined || (before < replayed && reported !== undefined);
      readings.push({ replica, lagMs: Math.max(bound, reported ?? 0), exact });
    }
    return readings;
  }

  async close(): Promise<void> {}

  #remember(sample: WalSample): void {
    this.#samples.push(sample);
    while (this.#samples.length > 0 && this.#samples[0].at < sample.at - HISTORY_MS) this.#samples.shift();
  }
}

/**
 * A standby given by URL: its lag is the time since the last transaction it
 * replayed was committed, or 0 when it has replayed all it received.
 */
export async function connectPostgresReplica(raw: string): Promise<LagSource> {
  const { url, name } = parseReplicaUrl(raw, ['postgres', 'postgresql']);
  url.searchParams.delete('schema');
  const sockets = new ReplicaSockets();
  const knex = knexFactory({
    client: 'pg',
    connection: {
      connectionString: url.toString(),
      application_name: 'zmigrate-throttle',
      connectionTimeoutMillis: 5_000,
      stream: sockets.unconnected,
    },
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 6_000,
    log: { warn: () => undefined },
  });
  const sql = `
    SELECT pg_is_in_recovery() AS standby,
           (SELECT pid FROM pg_stat_wal_receiver) IS NOT NULL AS receiving,
           pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS caught_up,
           EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000 AS lag_ms`;
  let first: Record<string, unknown>;
  try {
    first = ((await sockets.bounded(() => knex.raw(sql))) as { rows: Array<Record<string, unknown>> }).rows[0];
  } catch (error) {
    await knex.destroy().catch(() => undefined);
    // 28P01: a wrong password (or a user that does not exist, which the server does not tell apart).
    const code = (error as { code?: string }).code;
    throw replicaError(raw, code === '28P01' ? 'rejects the user name or password' : 'cannot be reached', error);
  }
  if (first.standby !== true) {
    await knex.destroy().catch(() => undefined);
    throw replicaError(raw, 'is not a standby (pg_is_in_recovery() is false)');
  }
  return {
    async read() {
      let row: Record<string, unknown>;
      try {
        row = ((await sockets.bounded(() => knex.raw(sql))) as { rows: Array<Record<string, unknown>> }).rows[0];
      } catch (error) {
        return [{ replica: name, lagMs: 0, exact: false, problem: `cannot read its lag (${firstLine(error)})` }];
      }
      if (row.standby !== true) return [{ replica: name, lagMs: 0, exact: false, problem: 'is no longer a standby (promoted?)' }];
      if (row.receiving !== true)
        return [{ replica: name, lagMs: 0, exact: false, problem: 'is not streaming from the primary (no WAL receiver)' }];
      if (row.caught_up === true) return [{ replica: name, lagMs: 0, exact: true }];
      // Behind with nothing replayed since it started: how far is not known yet.
      if (row.lag_ms === null) return [{ replica: name, lagMs: 0, exact: false }];
      return [{ replica: name, lagMs: Math.max(0, Number(row.lag_ms)), exact: true }];
    },
    close: () => knex.destroy(),
  };
}

/**
 * How long, at least, a replica had not replayed WAL when it last reported
 * `replayed`: since the oldest sample of the primary's WAL position beyond
 * it. `replyMs` is the time of its report on its own clock; one running ahead
 * of the primary's would make it read as behind by the difference, so it
 * counts as no later than the primary's `now`.
 */
export function unreplayedFor(samples: readonly WalSample[], replayed: bigint, replyMs: number | undefined, now: number): number {
  const reportedAt = replyMs === undefined ? now : Math.min(replyMs, now);
  const oldestUnreplayed = samples.find((s) => s.lsn > replayed && s.at <= reportedAt);
  return oldestUnreplayed ? Math.max(0, reportedAt - oldestUnreplayed.at) : 0;
}

/** An LSN (`16/B374D848`) as a number that orders like it. */
function lsn(text: string): bigint {
  const [high, low] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
