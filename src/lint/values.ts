import type { LintEngine, SettingValue } from './statement';

/**
 * Functions whose value differs per row: a column added with one of them as
 * its default makes the engine compute and write a value into every row.
 * now() / CURRENT_TIMESTAMP are evaluated once per statement and are fine.
 */
export const PER_ROW_FUNCTIONS: ReadonlySet<string> = new Set([
  // PostgreSQL
  'random',
  'random_normal',
  'gen_random_uuid',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'uuidv4',
  'uuidv7',
  'clock_timestamp',
  'timeofday',
  'nextval',
  // MySQL / MariaDB
  'uuid',
  'uuid_short',
  'sys_guid',
  'rand',
  'sysdate',
]);

/** PostgreSQL pseudo-types that add a sequence default, with the integer type each stands for. */
export const SERIAL_INTEGERS: Readonly<Record<string, string>> = {
  serial: 'integer',
  serial4: 'integer',
  serial2: 'smallint',
  smallserial: 'smallint',
  serial8: 'bigint',
  bigserial: 'bigint',
};
export const SERIAL_TYPES: ReadonlySet<string> = new Set(Object.keys(SERIAL_INTEGERS));

/** Settings that bound how long a statement waits for a lock. */
export const LOCK_TIMEOUT_SETTINGS: Readonly<Record<LintEngine, readonly string[]>> = {
  postgres: ['lock_timeout'],
  mysql: ['lock_wait_timeout', 'innodb_lock_wait_timeout'],
};

const PG_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A timeout setting's value as written (`0`, `'5s'`, `DEFAULT`), in ms.
 * PostgreSQL counts bare numbers in ms, MySQL/MariaDB in seconds.
 */
export function settingValue(engine: LintEngine, raw: string): SettingValue | undefined {
  const text = raw.trim();
  if (/^default$/i.test(text)) return 'default';
  if (engine === 'mysql') {
    return /^\d+(\.\d+)?$/.test(text) ? { ms: Number(text) * 1000 } : undefined;
  }
  const match = /^(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?$/i.exec(text);
  if (!match) return undefined;
  return { ms: Number(match[1]) * PG_UNITS[(match[2] ?? 'ms').toLowerCase()] };
}
