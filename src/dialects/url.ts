import path from 'node:path';
import { ConfigError } from '../errors';

export type ConnectionTarget =
  | { engine: 'postgres'; url: URL; database: string }
  | { engine: 'mysql'; url: URL; database: string }
  | { engine: 'pglite'; dataDir: string | undefined };

const HINT = 'use postgres://user@host:5432/db, mysql://user@host:3306/db, or pglite:memory / pglite:<folder>';

/**
 * Parses a connection URL. `pglite:memory` is an in-memory embedded
 * PostgreSQL; `pglite:<folder>` (or `pglite://<folder>`) keeps its data in a folder.
 */
export function parseConnectionUrl(raw: string | undefined): ConnectionTarget {
  if (raw === undefined || raw.trim() === '') {
    throw new ConfigError('no database URL: pass --url or set ZMIGRATE_DATABASE_URL', { hint: HINT });
  }
  const text = raw.trim();
  if (/^pglite:/i.test(text)) {
    const rest = text
      .slice('pglite:'.length)
      .replace(/^\/\/(?=\/|\.|~|[A-Za-z]:)/, '')
      .replace(/^\/\//, '');
    if (rest === '' || rest === 'memory' || rest === ':memory:') return { engine: 'pglite', dataDir: undefined };
    return { engine: 'pglite', dataDir: path.resolve(rest) };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`malformed database URL ${JSON.stringify(redactUrl(text))}`, { hint: HINT });
  }
  const protocol = url.protocol.replace(/:$/, '').toLowerCase();
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!url.hostname) throw new ConfigError(`database URL ${redactUrl(text)} has no host`, { hint: HINT });
  if (protocol === 'postgres' || protocol === 'postgresql') {
    return { engine: 'postgres', url, database: database || 'postgres' };
  }
  if (protocol === 'mysql' || protocol === 'mariadb') {
    if (!database)
      throw new ConfigError(`database URL ${redactUrl(text)} names no database`, { hint: 'mysql://user@host:3306/<database>' });
    return { engine: 'mysql', url, database };
  }
  throw new ConfigError(`unsupported database URL scheme ${JSON.stringify(protocol + ':')}`, { hint: HINT });
}

/** The URL with its password replaced, for messages. Never print a URL any other way. */
export function redactUrl(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/i, '$1***@');
}

/** The password a URL carries, so output can be scrubbed of it. */
export function urlPassword(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  try {
    const password = decodeURIComponent(new URL(raw).password);
    return password || undefined;
  } catch {
    return /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:([^@\s]*)@/i.exec(raw)?.[1];
  }
}

/** The mysql2 connection settings a mysql:// or mariadb:// URL gives: host, port (3306), user (root), password. */
export function mysqlConnection(url: URL): { host: string; port: number; user: string; password: string } {
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
  };
}
