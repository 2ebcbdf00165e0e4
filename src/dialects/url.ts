import path from 'node:path';
import { ConfigError } from '../errors';

export type ConnectionTarget =
  | { engine: 'postgres'; url: URL; database: string }
  | { engine: 'mysql'; url: URL; database: string }
  | { engine: 'pglite'; dataDir: string | undefined };

const HINT = 'use postgres://user@host:5432/db, mysql://user@host:3306/db, or pglite:memory / pglite:<folder>';
const ENCODE_HINT = `${HINT}; %-encode @ # / ? % and spaces in the user name or password`;

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
    throw new ConfigError(`malformed database URL ${JSON.stringify(redactMalformedUrl(text))}`, { hint: ENCODE_HINT });
  }
  refuseMisreadCredentials(url, text, 'database URL');
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
 * Refuses a URL whose user and password the parser would read as host, path
 * or fragment: one with an `@` after the host and no user before it, as a
 * raw `/`, `?` or `#` in a password gives (`postgres://admin:12/ab@db/shop`
 * reads as host admin, port 12). Connecting there would fail with a message
 * about the wrong host, or reach it.
 */
export function refuseMisreadCredentials(url: URL, raw: string, what: string): void {
  // A password given as ?password=… may hold an @ of its own.
  const search = url.search.replace(/([?&])password=[^&]*/gi, '$1');
  if (url.username === '' && (url.pathname + search + url.hash).includes('@')) {
    throw new ConfigError(`${what} ${redactUrl(raw)} has an @ after its host, so its user and password would be misread`, {
      hint: 'in the user name and password, write @ as %40, # as %23, / as %2F, ? as %3F, % as %25 and a space as %20',
    });
  }
}

/** A URL's scheme and `//`, where its user and password begin. */
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** Every URL in a text, to the next whitespace. */
const URLS_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/\S*/gi;
/** A password given as a query parameter (`?password=…`, which libpq and the pg driver read too). */
const PASSWORD_PARAMETER = /([?&]password=)([^&\s]*)/gi;

/**
 * A URL's user and password as written: everything from `//` to the last
 * `@`, whatever it holds. A user name may hold a raw `@` (which the URL
 * parser accepts), a password a raw `@`, `#`, `/`, `?` or space (which the
 * parser then reads as part of the host, path or fragment): either way,
 * what comes before the last `@` was meant as credentials. The user name
 * ends at the first `:`.
 */
function writtenCredentials(url: string): { start: string; user: string; password: string | undefined; rest: string } | undefined {
  const start = SCHEME.exec(url)?.[0];
  // An @ in a password given as ?password=… is that parameter's (redacted as such), not the end of the user part.
  const at = url.replace(PASSWORD_PARAMETER, (_, name: string, value: string) => name + '-'.repeat(value.length)).lastIndexOf('@');
  if (!start || at < start.length) return undefined;
  const userinfo = url.slice(start.length, at);
  const colon = userinfo.indexOf(':');
  return {
    start,
    user: colon < 0 ? userinfo : userinfo.slice(0, colon),
    password: colon < 0 ? undefined : userinfo.slice(colon + 1),
    rest: url.slice(at),
  };
}

/**
 * One URL with its password replaced, for messages (the whole text is the
 * URL, so a password with spaces in it goes too). Never print a URL any
 * other way.
 */
export function redactUrl(url: string): string {
  const parts = writtenCredentials(url);
  const redacted = parts?.password === undefined ? url : `${parts.start}${parts.user}:***${parts.rest}`;
  return redacted.replace(PASSWORD_PARAMETER, '$1***');
}

/**
 * A URL the parser refused, for its message: its password hidden as by
 * redactUrl, and with no `@` in it, whatever follows the host's `:` unless
 * that is a port (`postgres://admin:Xy#9k`, the host forgotten, is still a
 * password).
 */
export function redactMalformedUrl(url: string): string {
  if (writtenCredentials(url)) return redactUrl(url);
  const start = SCHEME.exec(url)?.[0];
  if (!start) return redactUrl(url);
  return redactUrl(url.slice(0, start.length) + url.slice(start.length).replace(/:(?!\d*(?:[/?]|$)).*$/, ':***'));
}

/** `text` with every URL in it redacted (a URL may reach a message from anywhere, e.g. a mistyped argument). */
export function redactUrls(text: string): string {
  return text.replace(URLS_IN_TEXT, (url) => redactUrl(url)).replace(PASSWORD_PARAMETER, '$1***');
}

/**
 * The passwords a URL carries, as written and decoded, and as the URL parser
 * reads them, so error text can be scrubbed of them. Left out: passwords of
 * fewer than four characters, which would turn every such run of letters or
 * digits in a message into *** and hide nothing worth the name, and a
 * password that is also the URL's user, host or database name, which
 * messages show anyway (`mysql://shop:shop@db/shop`).
 */
function urlPasswords(raw: string | undefined): string[] {
  if (!raw) return [];
  const text = raw.trim();
  const written = [writtenCredentials(text)?.password ?? '', ...[...text.matchAll(PASSWORD_PARAMETER)].map((m) => m[2])];
  const shown: string[] = [];
  try {
    const url = new URL(text);
    written.push(url.password, url.searchParams.get('password') ?? '');
    shown.push(url.username, url.hostname, url.pathname.replace(/^\//, ''));
  } catch {
    // A URL the parser refuses has only its written password.
  }
  const notShown = new Set([...shown, ...shown.map(safelyDecoded)]);
  const passwords = written.flatMap((p) => [p, safelyDecoded(p)]);
  return [...new Set(passwords)].filter((p) => p.length >= 4 && !notShown.has(p));
}

/**
 * `text` with every URL in it redacted, and no password of `urls` left
 * anywhere (longest first, so none is left in part). For error text, where
 * a driver's message might echo a password; results are printed as they are.
 */
export function scrubPasswords(text: string, urls: ReadonlyArray<string | undefined>): string {
  const known = urls.flatMap((u) => (u?.trim() ? [u, u.trim()] : []));
  // Each known URL whole first: its password may hold a space, which ends a URL in free text.
  const redacted = redactUrls(known.reduce((t, url) => t.split(url).join(redactUrl(url.trim())), text));
  const passwords = urls.flatMap(urlPasswords).sort((a, b) => b.length - a.length);
  return passwords.reduce((scrubbed, password) => scrubbed.split(password).join('***'), redacted);
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
    // An IPv6 address without the URL's brackets, which mysql2 would look up as a host name.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 3306,
    user: decoded(url.username || 'root', 'user name', url.href),
    password: decoded(url.password, 'password', url.href),
  };
}
