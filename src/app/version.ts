/**
 * Helpers for applications: point a connection at a version schema. Setting
 * the version schema is all an app must do (the dual-write triggers need no
 * other signal); these only save writing it by hand.
 *
 *   const schema = await latestVersionSchema(process.env.DATABASE_URL!);
 *   const db = knex(knexConfigForVersion(baseConfig, schema));
 */
import type { Knex } from 'knex';
import { createDialect } from '../dialects';
import { StateStore } from '../engine/state-store';
import { StateError } from '../errors';

/** The newest version schema recorded in zmigrate's state (the one `zmigrate schema` prints). */
export async function latestVersionSchema(url: string): Promise<string> {
  const dialect = createDialect(url, { lockTimeoutMs: 500 });
  try {
    await dialect.connect({ lockTimeoutMs: 500 });
    const latest = await new StateStore(dialect).latestVersionSchema();
    if (!latest) throw new StateError('no version schema yet: run zmigrate expand first');
    return latest;
  } finally {
    await dialect.close();
  }
}

/** A knex config whose connections use the version: search_path on PostgreSQL, the default database on MySQL/MariaDB. */
export function knexConfigForVersion(config: Knex.Config, schema: string): Knex.Config {
  const client = String(config.client ?? '');
  if (/mysql|maria/i.test(client)) {
    const connection = typeof config.connection === 'object' && config.connection !== null ? config.connection : {};
    const pool = config.pool ?? {};
    const afterCreate = pool.afterCreate as ((conn: MysqlConnection, done: (err: Error | null, conn: unknown) => void) => void) | undefined;
    return {
      ...config,
      connection: { ...(connection as object), database: schema } as Knex.StaticConnectionConfig,
      pool: {
        ...pool,
        // Tells the dual-write triggers which version writes (MySQL has no search_path to tell it).
        afterCreate: (conn: MysqlConnection, done: (err: Error | null, conn: unknown) => void) => {
          conn.query(MYSQL_VERSION_SQL, [schema], (err) => (err || !afterCreate ? done(err, conn) : afterCreate(conn, done)));
        },
      },
    };
  }
  return { ...config, searchPath: [schema] };
}

/** node-postgres Pool/Client options whose sessions start with search_path set to the version. */
export function pgConfigForVersion<T extends object>(config: T, schema: string): T & { options: string } {
  const setting = `-c search_path=${schema.replace(/([\\\s"])/g, '\\$1')}`;
  const options = (config as { options?: string }).options;
  return { ...config, options: [options, setting].filter(Boolean).join(' ') };
}

interface MysqlConnection {
  query(sql: string, values: unknown[], callback: (err: Error | null) => void): void;
}

/** What a MySQL/MariaDB session of a version runs first, so the triggers know which version writes. */
export const MYSQL_VERSION_SQL = 'SET @zmigrate_version = ?';

/**
 * mysql2 pool/connection options whose default database is the version. Also
 * run MYSQL_VERSION_SQL with the schema on each new connection
 * (`pool.on('connection', c => c.query(MYSQL_VERSION_SQL, [schema]))`).
 */
export function mysqlConfigForVersion<T extends object>(config: T, schema: string): T & { database: string } {
  return { ...config, database: schema };
}
