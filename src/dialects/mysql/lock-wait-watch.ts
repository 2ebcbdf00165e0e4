import type { Knex } from 'knex';
import { resultRows } from '../../engine/raw-result';
import { LockWaitStopped } from '../dialect';

/** How often the watch looks; a wait is stopped at most this much past the lock timeout. */
const POLL_MS = 50;
const WAITING = 'Waiting for table metadata lock';
/** MariaDB's ER_QUERY_INTERRUPTED, what KILL QUERY makes the statement fail with. */
const INTERRUPTED = 1317;

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
 */
export async function watchLockWait(
  session: Knex | Knex.Transaction,
  watcher: () => Knex,
  lockTimeoutMs: number,
  statement: () => Promise<unknown>,
): Promise<void> {
  const [me] = resultRows(await session.raw('SELECT CONNECTION_ID() AS id'));
  const id = Number(me?.id);
  let finished = false;
  let stoppedAfter: number | undefined;
  let wake: () => void = () => undefined;
  const nap = () =>
    new Promise<void>((resolve) => {
      if (finished) return resolve();
      const timer = setTimeout(resolve, POLL_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  // Not waited for at the end: a watcher still connecting must not hold up the statement's result.
  void (async () => {
    const db = watcher();
    for (await nap(); !finished; await nap()) {
      const [waiting] = resultRows(
        await db.raw(
          'SELECT QUERY_ID AS query, TIME_MS AS ms FROM information_schema.PROCESSLIST WHERE ID = ? AND STATE = ? AND TIME_MS >= ?',
          [id, WAITING, lockTimeoutMs],
        ),
      );
      if (!waiting || finished) continue;
      stoppedAfter = Math.round(Number(waiting.ms));
      await db.raw('KILL QUERY ID ?', [Number(waiting.query)]);
      return;
    }
  })().catch(() => undefined);
  try {
    await statement();
  } catch (error) {
    if (stoppedAfter !== undefined && (error as { errno?: number }).errno === INTERRUPTED)
      throw new LockWaitStopped(stoppedAfter, { cause: error });
    throw error;
  } finally {
    finished = true;
    wake();
  }
}
