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
  const database = decoded(url.pathname.replace(/^\//, ''), 'database name', text);
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

/**
 * A URL's user and password: up to the last `@` before the host (a password
 * may hold a raw `@`; the host part starts after the last one, as the URL
 * parser reads it).
 */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^/?#\s]*)@/gi;
/** A password given as a query parameter (`?password=…`, which libpq and the pg driver read too). */
const PASSWORD_PARAMETER = /([?&]password=)([^&#\s]*)/gi;

/**
 * The URL with its password replaced, for messages; so is every other URL in
 * the text (a URL may reach a message from anywhere, e.g. a mistyped
 * argument). Never print a URL any other way.
 */
export function redactUrl(text: string): string {
  return text.replace(USERINFO, '$1***@').replace(PASSWORD_PARAMETER, '$1***');
}

/** The passwords a URL carries, as written and decoded, so output can be scrubbed of them. */
function urlPasswords(raw: string | undefined): string[] {
  if (!raw) return [];
  const written = [...raw.matchAll(USERINFO), ...raw.matchAll(PASSWORD_PARAMETER)].map((m) => m[2]).filter((p) => p !== '');
  return [...new Set(written.flatMap((p) => [p, safelyDecoded(p)]))];
}

/** `text` with every URL in it redacted, and no password of `urls` left anywhere (longest first, so none is left in part). */
export function scrubPasswords(text: string, urls: ReadonlyArray<string | undefined>): string {
  const passwords = urls.flatMap(urlPasswords).sort((a, b) => b.length - a.length);
  return passwords.reduce((scrubbed, password) => scrubbed.split(password).join('***'), redactUrl(text));
}

function safelyDecoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** A %-encoded part of the URL, decoded; a bad escape is bad input, named without the password. */
function decoded(part: string, what: string, raw: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigError(`database URL ${redactUrl(raw)} has a malformed %-escape in its ${what}`, { hint: 'write a literal % as %25' });
  }
}

/** The mysql2 connection settings a mysql:// or mariadb:// URL gives: host, port (3306), user (root), password. */
export function mysqlConnection(url: URL): { host: string; port: number; user: string; password: string } {
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decoded(url.username || 'root', 'user name', url.href),
    password: decoded(url.password, 'password', url.href),
  };
}
