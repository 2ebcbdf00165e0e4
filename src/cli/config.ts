import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createJiti } from 'jiti';
import { ConfigError } from '../errors';

/** What zmigrate.config.{ts,js,json} may hold; command-line flags win over it. */
export interface ZmigrateConfig {
  url?: string;
  dir?: string;
  lockTimeout?: number;
  lockRetries?: number;
  /** Pause backfills while a replica lags more than this many ms (0: off). */
  maxLag?: number;
  /** Replicas to read the lag from (MySQL/MariaDB needs them; PostgreSQL sees its replicas from the primary). */
  replicaUrls?: string[];
  /** Seconds a backfill may stay paused by the throttle before the run stops (resumably). */
  throttleMaxWait?: number;
}

const NAMES = ['zmigrate.config.ts', 'zmigrate.config.js', 'zmigrate.config.json'];
const KEYS: Record<keyof ZmigrateConfig, 'string' | 'number' | 'string[]'> = {
  url: 'string',
  dir: 'string',
  lockTimeout: 'number',
  lockRetries: 'number',
  maxLag: 'number',
  replicaUrls: 'string[]',
  throttleMaxWait: 'number',
};

/**
 * The database URL of a knex project's knexfile, so it adopts zmigrate
 * without repeating its settings. `env` picks the environment (default:
 * NODE_ENV, else development) when the file has one per environment.
 */
export async function urlFromKnexfile(
  file: string,
  env: string | undefined,
  where: { cwd: string; env: Readonly<Record<string, string | undefined>> },
): Promise<string> {
  const full = path.resolve(where.cwd, file);
  if (!existsSync(full)) throw new ConfigError(`knexfile ${file} does not exist`);
  const exported = await importConfigFile(full, `knexfile ${path.basename(full)}`);
  if (typeof exported !== 'object' || exported === null) throw new ConfigError(`knexfile ${path.basename(full)} must export a knex config`);
  const all = exported as Record<string, unknown>;
  const name = env ?? where.env.NODE_ENV ?? 'development';
  const config = ('client' in all ? all : all[name]) as { client?: unknown; connection?: unknown } | undefined;
  if (!config || typeof config !== 'object') {
    throw new ConfigError(
      `knexfile ${path.basename(full)} has no environment ${JSON.stringify(name)} (it has ${Object.keys(all).join(', ')})`,
      { hint: 'pick one with --env' },
    );
  }
  const client = String(config.client ?? '');
  const scheme = /^(pg|postgres|postgresql)$/.test(client) ? 'postgres' : /^(mysql|mysql2)$/.test(client) ? 'mysql' : undefined;
  if (!scheme)
    throw new ConfigError(`knexfile ${path.basename(full)}: client ${JSON.stringify(client)} is not one zmigrate supports (pg, mysql2)`);
  const connection = config.connection;
  if (typeof connection === 'string') return connection;
  if (typeof connection !== 'object' || connection === null)
    throw new ConfigError(`knexfile ${path.basename(full)}: connection must be a URL or an object`);
  const c = connection as { connectionString?: string; host?: string; port?: number; user?: string; password?: string; database?: string };
  const lost = uncarried(config as Record<string, unknown>, c as Record<string, unknown>, scheme);
  if (lost.length > 0) {
    throw new ConfigError(
      `knexfile ${path.basename(full)}: zmigrate cannot take ${lost.join(', ')} from a knexfile, and would connect without ${lost.length > 1 ? 'them' : 'it'}`,
      { hint: 'pass the connection with --url instead (PostgreSQL: ?sslmode=…, ?schema=<base schema>)' },
    );
  }
  if (c.connectionString) return c.connectionString;
  const auth = c.user ? `${encodeURIComponent(c.user)}${c.password ? `:${encodeURIComponent(c.password)}` : ''}@` : '';
  // An IPv6 address goes in brackets, as in any URL: postgres://user@[::1]:5432/db.
  const host = c.host?.includes(':') && !c.host.startsWith('[') ? `[${c.host}]` : (c.host ?? '127.0.0.1');
  return `${scheme}://${auth}${host}${c.port ? `:${c.port}` : ''}/${encodeURIComponent(c.database ?? '')}`;
}

/**
 * The knexfile settings that decide how, where or in which schema knex
 * connects and that a URL does not carry, named as written: with them
 * dropped, zmigrate would connect without TLS, to another server or
 * schema. Settings that only tune a session (charset, timeouts, type
 * parsing) are zmigrate's own business and are left out.
 */
function uncarried(config: Record<string, unknown>, connection: Record<string, unknown>, scheme: string): string[] {
  // `ssl: false` (the development half of `ssl: production ? {…} : false`) is what the URL says already.
  const given = (value: unknown) => value !== undefined && value !== null && value !== false && value !== '';
  const lost = ['ssl', 'socketPath', 'options'].filter((key) => given(connection[key])).map((key) => `connection.${key}`);
  // A folder as host is a Unix socket (node-postgres), which a URL's host cannot be.
  if (typeof connection.host === 'string' && connection.host.startsWith('/')) lost.push('connection.host (a socket folder)');
  // knex reads searchPath on PostgreSQL only; `public` first is the base schema a URL without ?schema= means.
  const path = Array.isArray(config.searchPath) ? config.searchPath[0] : config.searchPath;
  if (scheme === 'postgres' && given(path) && path !== 'public') lost.push('searchPath');
  return lost;
}

async function importConfigFile(file: string, what: string): Promise<unknown> {
  try {
    if (file.endsWith('.json')) return JSON.parse(readFileSync(file, 'utf8'));
    const jiti = createJiti(__filename, { moduleCache: false, fsCache: false, interopDefault: true });
    const mod = (await jiti.import(file)) as { default?: unknown };
    return mod && typeof mod === 'object' && 'default' in mod ? mod.default : mod;
  } catch (error) {
    const text = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new ConfigError(`cannot read ${what}: ${text}`);
  }
}

/** Loads the given config file, or the first of NAMES in cwd; none is fine. Paths in it are relative to the file. */
export async function loadConfig(explicit: string | undefined, cwd: string): Promise<ZmigrateConfig> {
  const file = explicit ? path.resolve(cwd, explicit) : NAMES.map((n) => path.join(cwd, n)).find((f) => existsSync(f));
  if (!file) return {};
  if (!existsSync(file)) throw new ConfigError(`config file ${explicit} does not exist`);
  const raw = await importConfigFile(file, `config file ${path.basename(file)}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`config file ${path.basename(file)} must export an object like { url, dir }`);
  }
  const config: ZmigrateConfig = {};
  for (const [key, value] of Object.entries(raw)) {
    const expected = KEYS[key as keyof ZmigrateConfig];
    if (!expected)
      throw new ConfigError(
        `config file ${path.basename(file)}: unknown setting ${JSON.stringify(key)} (known: ${Object.keys(KEYS).join(', ')})`,
      );
    const fits = expected === 'string[]' ? Array.isArray(value) && value.every((v) => typeof v === 'string') : typeof value === expected;
    if (!fits)
      throw new ConfigError(
        `config file ${path.basename(file)}: ${key} must be ${expected === 'string[]' ? 'a list of strings' : `a ${expected}`}`,
      );
    (config as Record<string, unknown>)[key] = value;
  }
  if (config.dir) config.dir = path.resolve(path.dirname(file), config.dir);
  return config;
}
