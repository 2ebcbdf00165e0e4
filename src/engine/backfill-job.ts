import type { Knex } from 'knex';
import { bound, joined, literalMarks, params, runBound } from '../dialects/bound-sql';
import type { Dialect } from '../dialects/dialect';
import type { BackfillJob, CustomContext } from '../migration/types';
import { BatchSizer, DEFAULT_BATCHES, ProgressClock, retryingConflicts, type BatchOptions, type CheckpointStore } from './backfill';
import { DEFAULT_RETRY } from './retry';
import type { Logger } from './logger';
import { resultRows } from './raw-result';
import { InterruptedError } from '../errors';
import { sleepUnlessStopped } from './stop';

const FIRST_BATCH = 1000;

/**
 * Runs a TypeScript backfill job: keyset batches over the primary key, each
 * batch's rows read with a locking read and the job's `batch` called inside
 * that batch's transaction, and the checkpoint saved in that same
 * transaction, so a killed run neither loses nor repeats a finished batch.
 * A batch that rolls back on a conflict with an app (see retryingConflicts)
 * runs again with the same rows. The batch's read and the job's statements
 * are watched as the backfill's own are (Dialect.watchLockWait): on MariaDB,
 * one that waits for an app's row lock longer than the lock timeout is
 * stopped, which rolls the batch back, rather than waiting
 * `innodb_lock_wait_timeout`.
 */
export async function runBackfillJob(
  dialect: Dialect,
  job: BackfillJob,
  key: string[],
  checkpoints: CheckpointStore,
  logger: Logger,
  context: (trx: Knex.Transaction) => CustomContext,
  options: BatchOptions = DEFAULT_BATCHES,
): Promise<number> {
  const q = (name: string) => dialect.quote(name);
  const table = dialect.qualify(dialect.baseSchema, job.table);
  const keyCols = key.map(q);
  const keyTuple = keyCols.length === 1 ? keyCols[0] : `(${keyCols.join(', ')})`;
  // The key is read beside the row as the dialect reads keys exactly (a timestamp's microseconds), under names
  // of its own, taken off the rows before the batch sees them.
  const keyText = dialect.keyText?.bind(dialect);
  const keyAlias = (i: number) => `_zm_key${i}`;
  const keyRead = keyText ? keyCols.map((k, i) => `${keyText(k)} AS ${q(keyAlias(i))}`) : keyCols;
  const row = job.columns ? [...new Set([...key, ...job.columns])].map(q).join(', ') : '*';
  const columns = keyText ? [row, ...keyRead].join(', ') : row;
  const keyOf = (r: Record<string, unknown>) => key.map((k, i) => (keyText ? r[keyAlias(i)] : r[k]));

  let state = (await checkpoints.load()) ?? { last: null, end: null, rows: 0 };
  if (!state.end && !job.includeNewRows) {
    const [top] = resultRows(
      await dialect.knex.raw(
        literalMarks(`SELECT ${keyRead.join(', ')} FROM ${table} ORDER BY ${keyCols.map((k) => `${k} DESC`).join(', ')} LIMIT 1`),
      ),
    );
    if (!top) return 0;
    state = { ...state, end: keyOf(top) };
    await checkpoints.save(state);
  }
  const progress = new ProgressClock(job.table, state.rows, await dialect.estimateRows(job.table), logger);
  const sizer = new BatchSizer(job.batchSize ?? options.batchSize ?? FIRST_BATCH, options.batchTimeMs);
  for (;;) {
    await options.throttle?.wait();
    if (options.signal?.aborted) throw new InterruptedError({ rows: state.rows });
    const conditions = [
      ...(state.last ? [bound`${keyTuple} > ${params(state.last)}`] : []),
      ...(state.end ? [bound`${keyTuple} <= ${params(state.end)}`] : []),
      ...(job.where ? [bound`(${job.where})`] : []),
    ];
    const where = conditions.length ? bound` WHERE ${joined(conditions, ' AND ')}` : '';
    const order = keyCols.join(', ');
    // A locking read: a row an app writes after the batch read it waits for the batch, rather than getting the
    // job's value, computed from what the batch read, over its own. An app's write that committed first is seen,
    // and `where` checked against it (PostgreSQL checks it again on the row as the app left it; InnoDB's
    // locking read reads the latest row), so a row the app has filled meanwhile is left alone. Where a locking
    // read would wait for every row it scans (an app's open transaction on a row the job has nothing to do
    // with), the batch's keys are read first without locks, then only those rows are locked and read.
    const twoReads = dialect.capabilities.lockingReadWaitsOnScannedRows;
    const select = twoReads
      ? bound`SELECT ${keyRead.join(', ')} FROM ${table}${where} ORDER BY ${order} LIMIT ${sizer.size}`
      : bound`SELECT ${columns} FROM ${table}${where} ORDER BY ${order} LIMIT ${sizer.size} ${dialect.updateLockClause}`;
    const locked = (keys: unknown[][]) =>
      bound`SELECT ${columns} FROM ${table} WHERE ${keyTuple} IN (${joined(
        keys.map((k) => params(k)),
        ', ',
      )})${job.where ? bound` AND (${job.where})` : ''} ORDER BY ${order} ${dialect.updateLockClause}`;
    const started = Date.now();
    // A batch that rolled back (a deadlock, a row lock an app held past the lock timeout) is run again, as a killed run's would be.
    const done = await retryingConflicts(dialect, job.table, options.retry ?? DEFAULT_RETRY, logger, () =>
      // READ COMMITTED, as the backfill's batches: the locking read takes row locks only, no gap locks that an app's
      // insert could run into (PostgreSQL's default anyway).
      dialect.knex.transaction(
        async (trx) => {
          const fill = async () => {
            const read = resultRows(await runBound(trx, select));
            if (read.length === 0) return undefined;
            const last = keyOf(read[read.length - 1]);
            // Those of the keys read whose rows still match `where` once locked (an app may have filled one since).
            const rows = twoReads ? resultRows(await runBound(trx, locked(read.map(keyOf)))) : read;
            if (keyText) for (const r of rows) for (let i = 0; i < key.length; i++) delete r[keyAlias(i)];
            if (rows.length > 0) await job.batch(rows, context(trx));
            return { last, rows: rows.length, read: read.length };
          };
          // Where the server bounds a wait for an app's row lock only coarsely, the read and the job's statements
          // are stopped at the lock timeout.
          const filled = await (dialect.watchLockWait ? dialect.watchLockWait(trx, fill, { rowLocks: true }) : fill());
          if (!filled) return undefined;
          const next = { last: filled.last, end: state.end, rows: state.rows + filled.rows };
          await checkpoints.save(next, trx);
          return { next, full: filled.read === sizer.size };
        },
        { isolationLevel: 'read committed' },
      ),
    );
    if (!done) {
      progress.tick(state.rows, true);
      return state.rows;
    }
    state = done.next;
    progress.tick(state.rows, !done.full);
    if (!done.full) return state.rows;
    if (job.batchSize === undefined && options.batchSize === undefined) sizer.record(Date.now() - started);
    if (options.batchDelayMs > 0) await sleepUnlessStopped(options.batchDelayMs, options.signal);
  }
}
