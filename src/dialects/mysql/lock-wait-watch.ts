import type { Knex } from 'knex';
import { resultRows } from '../../engine/raw-result';
import { LockWaitStopped } from '../dialect';

/** How often the watch looks; a wait is stopped at most this much past the lock timeout. */
const POLL_MS = 50;
const WAITING = 'Waiting for table metadata lock';
/** MariaDB's ER_QUERY_INTERRUPTED, what KILL QUERY makes the statement fail with. */
const INTERRUPTED = 1317;
/** ER_SPECIFIC_ACCESS_DENIED_ERROR: INNODB_TRX needs the PROCESS privilege. */
const DENIED = 1227;

export interface RowLockWatch {
  /** Whether row-lock waits are watched too (false once the server refused to show them). */
  enabled: boolean;
}

/**
 * Runs one statement on `session` while a second session (`watcher`)
 * watches it, and stops it (`KILL QUERY ID`: that statement, never the
 * session's next one) once it has waited for a metadata lock longer than
 * `lockTimeoutMs`; the statement then fails with `LockWaitStopped`.
 *
 * For the statements the lock timeout cannot bound as a whole, because
 * their work takes as long as the table is large (an index build, a table
 * rebuilt in place). MariaDB's own bound on their lock waits,
 * `lock_wait_timeout`, has whole seconds only, and every write to the table
 * queues behind the waiting statement for as long as it waits: at least a
 * second, where `--lock-timeout` says 500 ms. MariaDB only: `QUERY_ID` and
 * `TIME_MS` (the time in the current state) are its own columns of the
 * process list. The watch is best effort: a watcher that cannot connect or
 * look leaves the statement to `lock_wait_timeout`.
 *
 * With `rows` (a backfill's batch), a statement waiting for a row lock is
 * stopped so too, once it has been in its current state (the wait, and any
 * work just before it) for `lockTimeoutMs`: every row it locked before is
 * held while it waits, and `innodb_lock_wait_timeout` has whole seconds
 * only. InnoDB shows which transactions wait (`INNODB_TRX`) only to a user
 * with the PROCESS privilege; without it, `rows` is turned off for good and
 * those waits are left to `innodb_lock_wait_timeout`.
 */
export async function watchLockWait<T>(
  session: Knex | Knex.Transaction,
  watcher: () => Knex,
  lockTimeoutMs: number,
  statement: () => Promise<T>,
  rows?: RowLockWatch,
): Promise<T> {
  // Asked on the session itself, not taken from the driver's handshake (threadId): behind a proxy (ProxySQL,
  // MaxScale) that id is the proxy's, and the server's process list may give it to another session.
  const [me] = resultRows(await session.raw('SELECT CONNECTION_ID() AS id'));
  const id = Number(me?.id);
  let finished = false;
  let stopped: { ms: number; lock: 'lock' | 'row' } | undefined;
  let wake: () => void = () => undefined;
  const nap = (ms = POLL_MS) =>
    new Promise<void>((resolve) => {
      if (finished) return resolve();
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  // Not waited for at the end: a watcher still connecting must not hold up the statement's result. The first
  // look comes once the statement has run for the lock timeout, before which it cannot have waited as long:
  // most statements (a backfill's batches) end sooner, and the watcher never looks, nor connects.
  void (async () => {
    const db = watcher();
    for (await nap(lockTimeoutMs); !finished; await nap()) {
      const waiting = await lookUp(db, id, lockTimeoutMs, rows);
      if (!waiting || finished) continue;
      stopped = { ms: Math.round(Number(waiting.ms)), lock: waiting.state === WAITING ? 'lock' : 'row' };
      await db.raw('KILL QUERY ID ?', [Number(waiting.query)]);
      return;
    }
  })().catch(() => undefined);
  try {
    return await statement();
  } catch (error) {
    if (stopped !== undefined && (error as { errno?: number }).errno === INTERRUPTED)
      throw new LockWaitStopped(stopped.ms, stopped.lock, { cause: error });
    throw error;
  } finally {
    finished = true;
    wake();
  }
}

/** The statement on session `id`, if it has waited for a lock for `ms` (its query id, time in that state, and state). */
async function lookUp(db: Knex, id: number, ms: number, rows: RowLockWatch | undefined): Promise<Record<string, unknown> | undefined> {
  const sql =
    'SELECT QUERY_ID AS query, TIME_MS AS ms, STATE AS state FROM information_schema.PROCESSLIST WHERE ID = ? AND TIME_MS >= ? AND (STATE = ?';
  if (rows?.enabled) {
    try {
      const rowWait = "ID IN (SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT')";
      return resultRows(await db.raw(`${sql} OR ${rowWait})`, [id, ms, WAITING]))[0];
    } catch (error) {
      if ((error as { errno?: number }).errno !== DENIED) throw error;
      rows.enabled = false;
    }
  }
  return resultRows(await db.raw(`${sql})`, [id, ms, WAITING]))[0];
}
