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

/**
 * A knex that executes nothing: every statement is recorded and answered
 * with no rows. `plan` and `lint` run custom phases on it to see their SQL.
 */
export function recordingKnex(flavour: 'postgres' | 'mysql'): { knex: Knex; statements: string[] } {
  const knex = knexFactory({ client: flavour === 'postgres' ? pgClient() : 'mysql2' });
  const statements: string[] = [];
  const connection = {
    query(config: unknown, second: unknown, third?: unknown) {
      const callback = (typeof second === 'function' ? second : third) as (err: Error | null, result: unknown, fields?: unknown) => void;
      const sql =
        typeof config === 'string' ? config : ((config as { text?: string; sql?: string }).text ?? (config as { sql?: string }).sql ?? '');
      // zmigrate's PostgreSQL client has read each `\?` as a question mark by now; its MySQL sessions would at the driver (formatMysqlQuery).
      const text = flavour === 'mysql' ? asWritten(sql) : sql;
      if (!/^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START TRANSACTION)\b/i.test(text)) statements.push(text.trim());
      callback(null, flavour === 'postgres' ? { rows: [], rowCount: 0, command: 'SELECT' } : [], []);
    },
  };
  const client = knex.client as { acquireConnection: () => Promise<unknown>; releaseConnection: () => Promise<void> };
  client.acquireConnection = async () => connection;
  client.releaseConnection = async () => undefined;
  return { knex, statements };
}

/** The SQL a custom phase would run, found by running it on a recording knex. Needs no database. */
export async function captureCustomSql(
  flavour: 'postgres' | 'mysql',
  phase: 'expand' | 'contract' | 'rollback',
  fn: CustomPhase,
  migration: { name: string; versionSchema: string },
): Promise<string[]> {
  const { knex, statements } = recordingKnex(flavour);
  const quote = (id: string) => literalMarks(flavour === 'postgres' ? `"${id.replace(/"/g, '""')}"` : `\`${id.replace(/`/g, '``')}\``);
  try {
    await fn({
      knex,
      // As the server would get it: a step's \? reaches it as ?.
      ddl: async (sql) => void statements.push(asWritten(sql).trim()),
      engine: flavour === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB',
      quote,
      migration: { ...migration, phase },
      log: () => undefined,
    });
  } finally {
    await knex.destroy();
  }
  return statements;
}

/** What a migration file's code threw, in words: its errors may come from another realm, where `instanceof Error` is false. */
export function thrownMessage(error: unknown): string {
  return typeof (error as { message?: unknown } | null)?.message === 'string' ? (error as Error).message : String(error);
}
