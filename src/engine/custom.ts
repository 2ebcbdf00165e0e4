import knexFactory, { type Knex } from 'knex';
import { asWritten, literalMarks } from '../dialects/bound-sql';
import type { Dialect } from '../dialects/dialect';
import type { CustomContext, CustomPhase } from '../migration/types';
import type { Logger } from './logger';
import { pgClient } from '../dialects/postgres/client';

/** Builds what a custom phase or a backfill job's batch receives. */
export function customContext(
  dialect: Dialect,
  knex: Knex,
  migration: CustomContext['migration'],
  logger: Logger,
  ddl: (sql: string) => Promise<void>,
): CustomContext {
  return {
    knex,
    ddl,
    engine: dialect.displayName,
    quote: (identifier) => literalMarks(dialect.quote(identifier)),
    migration,
    log: (message) => logger.step(message),
  };
}

/** A statement a custom phase sent: its text, the values bound to its placeholders, and the knex.transaction it ran in. */
export interface RecordedStatement {
  readonly sql: string;
  /** The text before its marks are read: placeholders `$1` (PostgreSQL) or `?` as zmigrate marks them (MySQL; see bound-sql.ts). */
  readonly marked: string;
  readonly bindings: readonly unknown[];
  /** Statements of one knex.transaction share a number; others have none. */
  readonly transaction?: number;
}

const TRANSACTION_START = /^\s*(BEGIN|START\s+TRANSACTION)\b/i;
const TRANSACTION_END = /^\s*(COMMIT|ROLLBACK)\b(?!\s+TO\b)/i;
const SAVEPOINT = /^\s*(SAVEPOINT|RELEASE|ROLLBACK\s+TO)\b/i;

/**
 * A knex that executes nothing: every statement is recorded and answered
 * with no rows. `plan` and `lint` run custom phases on it to see their SQL.
 * The transaction statements knex.transaction sends are not recorded; the
 * statements between them are marked with the transaction they ran in.
 */
export function recordingKnex(flavour: 'postgres' | 'mysql'): { knex: Knex; recorded: RecordedStatement[] } {
  const knex = knexFactory({ client: flavour === 'postgres' ? pgClient() : 'mysql2' });
  const recorded: RecordedStatement[] = [];
  let transactions = 0;
  // A connection of its own per acquire, as a pool gives: a transaction's statements are those sent on its connection.
  const connection = () => {
    let transaction: number | undefined;
    let depth = 0;
    return {
      query(config: unknown, second: unknown, third?: unknown) {
        const callback = (typeof second === 'function' ? second : third) as (err: Error | null, result: unknown, fields?: unknown) => void;
        const options = (typeof config === 'string' ? { text: config } : config) as { text?: string; sql?: string; values?: unknown[] };
        const sql = options.text ?? options.sql ?? '';
        const bindings = Array.isArray(second) ? second : (options.values ?? []);
        // zmigrate's PostgreSQL client has read each `\?` as a question mark by now; its MySQL sessions would at the driver (formatMysqlQuery).
        const text = flavour === 'mysql' ? asWritten(sql) : sql;
        if (TRANSACTION_START.test(text)) {
          if (depth++ === 0) transaction = ++transactions;
        } else if (TRANSACTION_END.test(text)) {
          if (--depth <= 0) [depth, transaction] = [0, undefined];
        } else if (!SAVEPOINT.test(text)) {
          recorded.push({ sql: text.trim(), marked: sql.trim(), bindings, transaction });
        }
        callback(null, flavour === 'postgres' ? { rows: [], rowCount: 0, command: 'SELECT' } : [], []);
      },
    };
  };
  const client = knex.client as { acquireConnection: () => Promise<unknown>; releaseConnection: () => Promise<void> };
  client.acquireConnection = async () => connection();
  client.releaseConnection = async () => undefined;
  return { knex, recorded };
}

/** The SQL a custom phase would run, found by running it on a recording knex. Needs no database. */
export async function captureCustomSql(
  flavour: 'postgres' | 'mysql',
  phase: 'expand' | 'contract' | 'rollback',
  fn: CustomPhase,
  migration: { name: string; versionSchema: string },
): Promise<string[]> {
  return (await captureCustomStatements(flavour, phase, fn, migration)).map((s) => s.sql);
}

/** As captureCustomSql, with each statement's bound values and transaction. */
export async function captureCustomStatements(
  flavour: 'postgres' | 'mysql',
  phase: 'expand' | 'contract' | 'rollback',
  fn: CustomPhase,
  migration: { name: string; versionSchema: string },
): Promise<RecordedStatement[]> {
  const { knex, recorded } = recordingKnex(flavour);
  const quote = (id: string) => literalMarks(flavour === 'postgres' ? `"${id.replace(/"/g, '""')}"` : `\`${id.replace(/`/g, '``')}\``);
  try {
    await fn({
      knex,
      // As the server would get it: a step's \? reaches it as ?.
      ddl: async (sql) => void recorded.push({ sql: asWritten(sql).trim(), marked: sql.trim(), bindings: [] }),
      engine: flavour === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB',
      quote,
      migration: { ...migration, phase },
      log: () => undefined,
    });
  } finally {
    await knex.destroy();
  }
  return recorded;
}

/** What a migration file's code threw, in words: its errors may come from another realm, where `instanceof Error` is false. */
export function thrownMessage(error: unknown): string {
  return typeof (error as { message?: unknown } | null)?.message === 'string' ? (error as Error).message : String(error);
}
