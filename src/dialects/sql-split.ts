export interface LexOptions {
  /** PostgreSQL `$tag$ … $tag$` strings. */
  dollarQuotes: boolean;
  /** MySQL `identifier` quoting. */
  backticks: boolean;
  /** MySQL: a backslash escapes the next character inside a string. */
  backslashEscapes: boolean;
  /** MySQL: `CREATE TRIGGER … BEGIN …; …; END` is one statement (no DELIMITER needed). */
  compoundBlocks?: boolean;
  /** PostgreSQL 14+: `CREATE FUNCTION … BEGIN ATOMIC …; …; END` is one statement, as psql reads it. */
  atomicBlocks?: boolean;
}

/** How each engine's SQL is split, by the dialects when they run it and by `zmigrate lint`. */
export const POSTGRES_LEX: LexOptions = { dollarQuotes: true, backticks: false, backslashEscapes: false, atomicBlocks: true };
export const MYSQL_LEX: LexOptions = { dollarQuotes: false, backticks: true, backslashEscapes: true, compoundBlocks: true };

/**
 * Splits SQL text on top-level semicolons. Quotes, comments and dollar-quoted
 * bodies are skipped, so a semicolon inside a function body does not split it.
 * Empty statements (and ones made only of comments) are dropped.
 */
export function splitSql(sql: string, options: LexOptions): string[] {
  return lexSql(sql, options).statements;
}

/** Where a statement of `splitSql` is in the text it was split from: its trimmed text is `sql.slice(start, end)`. */
export interface StatementSpan {
  start: number;
  end: number;
}

/** The statements of `sql`, where each is in it, and whether it holds a comment outside quotes. */
export function lexSql(sql: string, options: LexOptions): { statements: string[]; spans: StatementSpan[]; hasComments: boolean } {
  const statements: string[] = [];
  const spans: StatementSpan[] = [];
  let hasComments = false;
  let start = 0;
  let hasCode = false;
  let depth = 0;
  let i = 0;
  const push = (end: number) => {
    const raw = sql.slice(start, end);
    const text = raw.trim();
    if (hasCode && text) {
      statements.push(text);
      const at = start + raw.length - raw.trimStart().length;
      spans.push({ start: at, end: at + text.length });
    }
    hasCode = false;
  };
  while (i < sql.length) {
    const ch = sql[i];
    const next = sql[i + 1];
    if ((ch === '-' && next === '-') || (ch === '#' && options.backticks) || (ch === '/' && next === '*')) {
      hasComments = true;
    }
    if (ch === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (ch === '#' && options.backticks) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (ch === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (ch === "'" || ch === '"' || (ch === '`' && options.backticks)) {
      hasCode = true;
      i = skipQuoted(sql, i, ch, options.backslashEscapes && ch !== '`');
    } else if (ch === '$' && options.dollarQuotes) {
      hasCode = true;
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? sql.length : end + tag[0].length;
      } else {
        i += 1;
      }
    } else if (ch === ';' && depth === 0) {
      push(i);
      start = i + 1;
      i += 1;
    } else if ((options.compoundBlocks || options.atomicBlocks) && /[A-Za-z_]/.test(ch) && !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? ' ')) {
      hasCode = true;
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))![0];
      depth = options.compoundBlocks
        ? blockDepth(depth, word.toUpperCase(), sql.slice(i + word.length), sql.slice(start, i))
        : atomicDepth(depth, word.toUpperCase(), () => sql.slice(start, i));
      i += word.length;
    } else {
      if (!/\s/.test(ch)) hasCode = true;
      i += 1;
    }
  }
  push(sql.length);
  return { statements, spans, hasComments };
}

/** BEGIN (of a compound statement) and CASE open a block; END closes one, but END IF / LOOP / WHILE / REPEAT do not. */
function blockDepth(depth: number, word: string, rest: string, statementSoFar: string): number {
  const next = /^\s*([A-Za-z]+)/.exec(rest)?.[1]?.toUpperCase();
  if (word === 'BEGIN') {
    const compound = depth > 0 || COMPOUND_HEAD.test(statementSoFar);
    return compound && next !== 'WORK' && next !== 'TRANSACTION' ? depth + 1 : depth;
  }
  if (word === 'CASE' && depth > 0) return depth + 1;
  if (word === 'END' && depth > 0 && !['IF', 'LOOP', 'WHILE', 'REPEAT'].includes(next ?? '')) return depth - 1;
  return depth;
}

/** A statement so far that creates something (a trigger, a routine, an event), after any leading comments. */
const COMPOUND_HEAD = /^(?:\s|(?:--|#)[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*CREATE\b/i;

/**
 * psql's rule: in CREATE [OR REPLACE] FUNCTION / PROCEDURE, BEGIN (of BEGIN
 * ATOMIC) and CASE open a block and END closes one; elsewhere only a `;` counts.
 */
function atomicDepth(depth: number, word: string, statementSoFar: () => string): number {
  if (word === 'END') return Math.max(depth - 1, 0);
  if (word !== 'BEGIN' && word !== 'CASE') return depth;
  return ROUTINE_HEAD.test(statementSoFar()) ? depth + 1 : depth;
}

/** A statement so far that creates a function or procedure, after any leading comments. */
const ROUTINE_HEAD = /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\b/i;

function skipQuoted(sql: string, openAt: number, quote: string, backslashEscapes: boolean): number {
  let i = openAt + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashEscapes && ch === '\\') {
      i += 2;
    } else if (ch === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i += 1;
    }
  }
  return sql.length;
}
