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
}

const NAMES = ['zmigrate.config.ts', 'zmigrate.config.js', 'zmigrate.config.json'];
const KEYS: Record<keyof ZmigrateConfig, 'string' | 'number'> = { url: 'string', dir: 'string', lockTimeout: 'number', lockRetries: 'number' };

/** Loads the given config file, or the first of NAMES in cwd; none is fine. Paths in it are relative to the file. */
export async function loadConfig(explicit: string | undefined, cwd = process.cwd()): Promise<ZmigrateConfig> {
  const file = explicit ? path.resolve(cwd, explicit) : NAMES.map((n) => path.join(cwd, n)).find((f) => existsSync(f));
  if (!file) return {};
  if (!existsSync(file)) throw new ConfigError(`config file ${explicit} does not exist`);
  let raw: unknown;
  try {
    if (file.endsWith('.json')) {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } else {
      const jiti = createJiti(__filename, { moduleCache: false, fsCache: false, interopDefault: true });
      const mod = (await jiti.import(file)) as { default?: unknown };
      raw = mod && typeof mod === 'object' && 'default' in mod ? mod.default : mod;
    }
  } catch (error) {
    const text = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new ConfigError(`cannot read config file ${path.basename(file)}: ${text}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`config file ${path.basename(file)} must export an object like { url, dir }`);
  }
  const config: ZmigrateConfig = {};
  for (const [key, value] of Object.entries(raw)) {
    const expected = KEYS[key as keyof ZmigrateConfig];
    if (!expected) throw new ConfigError(`config file ${path.basename(file)}: unknown setting ${JSON.stringify(key)} (known: ${Object.keys(KEYS).join(', ')})`);
    if (typeof value !== expected) throw new ConfigError(`config file ${path.basename(file)}: ${key} must be a ${expected}`);
    (config as Record<string, unknown>)[key] = value;
  }
  if (config.dir) config.dir = path.resolve(path.dirname(file), config.dir);
  return config;
}
