/**
 * Built-in functions (PostgreSQL's and MySQL/MariaDB's) whose value changes
 * from one call to the next, or from one transaction to the next: the time,
 * random values, sequences. PostgreSQL also counts as not immutable many
 * functions that give the same value every time (`concat()`, `format()`,
 * `to_char()`: their arguments' text output is STABLE), and MySQL/MariaDB every
 * stored function and subquery; an `up` is verified as merely filled only
 * where the server says it is not immutable and it names one of these.
 */
/** Called with parentheses: a column of the same name (`uuid`, `random`) does not count. */
const CHANGING_CALLS = [
  'now',
  'current_timestamp',
  'current_date',
  'current_time',
  'localtime',
  'localtimestamp',
  'clock_timestamp',
  'statement_timestamp',
  'transaction_timestamp',
  'timeofday',
  'curdate',
  'curtime',
  'sysdate',
  'utc_timestamp',
  'utc_date',
  'utc_time',
  'unix_timestamp',
  'random',
  'random_normal',
  'rand',
  'gen_random_uuid',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'uuid',
  'uuid_short',
  'sys_guid',
  'nextval',
  'txid_current',
  'pg_current_xact_id',
  'connection_id',
  'last_insert_id',
];

/** SQL's own forms without parentheses. */
const CHANGING_KEYWORDS = ['current_(date|time|timestamp)', 'localtime(stamp)?', 'next\\s+value\\s+for'];

/** A call of one of CHANGING_CALLS, or one of CHANGING_KEYWORDS, not part of a longer or quoted name. */
const CHANGING = new RegExp(
  `(^|[^\\w$"\`])(${CHANGING_CALLS.join('|')})\\s*\\(|(^|[^\\w$."\`])(${CHANGING_KEYWORDS.join('|')})($|[^\\w$"\`])`,
  'i',
);

/** Whether `expression` calls a function whose value changes between calls (CHANGING_CALLS, CHANGING_KEYWORDS). */
export function namesChangingFunction(expression: string): boolean {
  return CHANGING.test(expression);
}
