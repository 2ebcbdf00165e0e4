/**
 * Helpers for applications: point a connection at a version schema. Setting
 * the version schema is all an app must do (the dual-write triggers need no
 * other signal); these only save writing it by hand.
 *
 *   const db = knex(knexConfigForVersion(baseConfig, 'public_0002_add_priority'));
 *
 * An app pins its version (per build or per deploy); `latestVersionSchema`
 * is what the database has now, which an old build that restarts after the
 * next expand must not take.
 */
import type { Knex } from 'knex';
import { createDialect } from '../dialects';
import { StateStore } from '../engine/state-store';
import { connectionError, translatedError } from '../engine/connection-errors';
import { ConfigError, StateError } from '../errors';
import { mysqlConnection, redactMalformedUrl } from '../dialects/url';
import { addToUrlOptions, sessionSetting } from '../dialects/postgres/session-options';

/**
 * The newest version schema recorded in zmigrate's state (the one `zmigrate schema` prints). Driver errors
 * come as the CLI's: a ConnectionError or PrivilegeError of one line, without the password.
 */
export async function latestVersionSchema(url: string): Promise<string> {
  const dialect = createDialect(url, { lockTimeoutMs: 500 });
  try {
    try {
      await dialect.connect({ lockTimeoutMs: 500 });
    } catch (error) {
      throw connectionError(dialect, url, error);
    }
    const latest = await new StateStore(dialect).latestVersionSchema().catch((error: unknown) => {
      throw translatedError(dialect, url, error);
    });
    if (!latest) throw new StateError('no version schema yet: run zmigrate expand first');
    return latest;
  } finally {
    // Quietly: a failure to close must not hide the answer or the error above.
    await dialect.close().catch(() => undefined);
  }
}

/** A knex config whose connections use the version: search_path on PostgreSQL, the default database on MySQL/MariaDB. */
export function knexConfigForVersion(config: Knex.Config, schema: string): Knex.Config {
  // knex never sets searchPath on a pool it did not make, and refuses `connection` beside `connectionPool`.
  if (config.connectionPool) {
    throw new ConfigError(
      'knexConfigForVersion cannot version a connectionPool made beforehand: give knex `connection` instead, or make the pool with pgConfigForVersion (node-postgres) or mysqlConfigForVersion and MYSQL_VERSION_SQL (mysql2) options',
    );
  }
  const client = String(config.client ?? config.dialect ?? '');
  if (/mysql|maria/i.test(client)) {
    // mysql2 takes a URL as its `uri`, where the explicit database wins; mysqljs and the mariadb connector know no
    // `uri` (they would connect to localhost), so theirs is read into fields. A function (rotating credentials) is wrapped.
    const withDatabase = (given: unknown) =>
      (typeof given === 'string'
        ? { ...(client === 'mysql2' ? { uri: given } : mysqlUrlFields(given)), database: schema }
        : { ...(given as object | undefined), database: schema }) as Knex.StaticConnectionConfig;
    const given: unknown = config.connection;
    const connection =
      typeof given === 'function' ? async () => withDatabase(await (given as () => Promise<unknown>)()) : withDatabase(given);
    const pool = config.pool ?? {};
    const afterCreate = pool.afterCreate as ((conn: MysqlConnection, done: (err: Error | null, conn: unknown) => void) => void) | undefined;
    return {
      ...config,
      connection: connection as Knex.Config['connection'],
      pool: {
        ...pool,
        // Tells the dual-write triggers which version writes (MySQL has no search_path to tell it). After the
        // user's own afterCreate, whose SET of the variable (or an earlier versioning's) must not win.
        afterCreate: (conn: MysqlConnection, done: (err: Error | null, conn: unknown) => void) => {
          const setVersion = (err: Error | null) => (err ? done(err, conn) : conn.query(MYSQL_VERSION_SQL, [schema], (e) => done(e, conn)));
          if (afterCreate) afterCreate(conn, setVersion);
          else setVersion(null);
        },
      },
    };
  }
  return { ...config, searchPath: [schema] };
}

/** A MySQL URL as connection fields, its parameters read as knex and mysqljs read them (JSON where it parses). */
function mysqlUrlFields(text: string): Record<string, unknown> {
  const url = parsed(text);
  if (!url) throw new ConfigError(`malformed database URL ${JSON.stringify(redactMalformedUrl(text))}`);
  const fields: Record<string, unknown> = {};
  for (const [key, value] of url.searchParams) fields[key] = jsonOrText(value);
  return { ...fields, ...mysqlConnection(url) };
}

function jsonOrText(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * node-postgres Pool/Client options whose sessions start with search_path set
 * to the version: added to the `options` given (or PGOPTIONS, which pg would
 * read otherwise), and to an `options` parameter of the connection string,
 * whose parameters pg lets win over the config's. The name is quoted, so it
 * keeps its case.
 */
export function pgConfigForVersion<T extends object>(config: T, schema: string): T & { options: string } {
  const setting = sessionSetting('search_path', `"${schema.replace(/"/g, '""')}"`);
  const given = config as { options?: string; connectionString?: string };
  const options = [given.options ?? process.env.PGOPTIONS, setting].filter(Boolean).join(' ');
  const url = typeof given.connectionString === 'string' ? parsed(given.connectionString) : undefined;
  if (url && addToUrlOptions(url, setting)) return { ...config, connectionString: url.toString(), options };
  return { ...config, options };
}

function parsed(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
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
