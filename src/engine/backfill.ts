import type { Knex } from 'knex';
import type { Dialect } from '../dialects/dialect';
import type { BackfillSpec } from './dual-write';
import type { Logger } from './logger';

/** Where a backfill stands: the last key done, and the last key that existed when it started. */
export interface BackfillCheckpoint {
  last: unknown[] | null;
  /** Rows inserted after this key came in after the triggers, which filled them: not revisited. */
  end: unknown[] | null;
  rows: number;
}

export interface CheckpointStore {
  load(): Promise<BackfillCheckpoint | undefined>;
  save(checkpoint: BackfillCheckpoint, trx?: Knex.Transaction): Promise<void>;
}

export const DEFAULT_BATCH_SIZE = 1000;

/**
 * Fills the rows that existed before the triggers, in keyset batches over the
 * primary key, each batch a short transaction of its own with its checkpoint.
 * The triggers stand aside for the backfill's own writes (session flag).
 */
export async function runBackfill(
  dialect: Dialect,
  spec: BackfillSpec,
  checkpoints: CheckpointStore,
  logger: Logger,
  batchSize = DEFAULT_BATCH_SIZE,
): Promise<number> {
  const q = (name: string) => dialect.quote(name);
  const table = dialect.qualify(dialect.baseSchema, spec.table);
  const key = spec.key.map(q);
  const keyTuple = key.length === 1 ? key[0] : `(${key.join(', ')})`;
  const params = (values: unknown[]) => (values.length === 1 ? '?' : `(${values.map(() => '?').join(', ')})`);
  const order = key.join(', ');
  const rowsOf = async (sql: string, bindings: unknown[], k: Knex | Knex.Transaction = dialect.knex) =>
    resultRows(await k.raw(sql, bindings as Knex.RawBinding[]));
  const keyOf = (row: Record<string, unknown>) => spec.key.map((k) => row[k]);

  let state = (await checkpoints.load()) ?? { last: null, end: null, rows: 0 };
  if (!state.end) {
    const [top] = await rowsOf(`SELECT ${key.join(', ')} FROM ${table} ORDER BY ${key.map((k) => `${k} DESC`).join(', ')} LIMIT 1`, []);
    if (!top) return 0;
    state = { ...state, end: keyOf(top) };
    await checkpoints.save(state);
  }
  const end = state.end!;
  const assignments = Object.entries(spec.set).map(([column, expression]) => `${q(column)} = (${expression})`);
  assignments.push(...(await dialect.preservedOnUpdate(spec.table)).map((c) => `${q(c)} = ${q(c)}`));

  for (;;) {
    const after = state.last ? `${keyTuple} > ${params(state.last)} AND ` : '';
    const lowerBindings = state.last ?? [];
    // The batch's upper key: the batchSize-th key after the last one, or the end.
    const [upperRow] = await rowsOf(
      `SELECT ${key.join(', ')} FROM ${table} WHERE ${after}${keyTuple} <= ${params(end)} ORDER BY ${order} LIMIT 1 OFFSET ${batchSize - 1}`,
      [...lowerBindings, ...end],
    );
    const upper = upperRow ? keyOf(upperRow) : end;
    const done = await dialect.knex.transaction(async (trx) => {
      await trx.raw(dialect.backfillFlag(true));
      try {
        const result = await trx.raw(
          `UPDATE ${table} SET ${assignments.join(', ')} WHERE ${after}${keyTuple} <= ${params(upper)} AND (${spec.where})`,
          [...lowerBindings, ...upper] as Knex.RawBinding[],
        );
        const next = { last: upper, end, rows: state.rows + affectedRows(result) };
        await checkpoints.save(next, trx);
        return next;
      } finally {
        await trx.raw(dialect.backfillFlag(false)).catch(() => undefined);
      }
    });
    state = done;
    logger.step(`backfill ${spec.table}: ${state.rows} rows`);
    if (!upperRow) return state.rows;
  }
}

function resultRows(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) return result[0] as Array<Record<string, unknown>>;
  return (result as { rows: Array<Record<string, unknown>> }).rows;
}

function affectedRows(result: unknown): number {
  if (Array.isArray(result)) return Number((result[0] as { affectedRows?: number }).affectedRows ?? 0);
  return Number((result as { rowCount?: number }).rowCount ?? 0);
}
