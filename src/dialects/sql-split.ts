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
  /** PostgreSQL: in an `E'…'` string a backslash escapes the next character (`E'it\'s'`). */
  escapeStrings?: boolean;
  /** PostgreSQL: block comments nest, so a comment inside a comment does not end it. */
  nestedComments?: boolean;
}

/** How each engine's SQL is split, by the dialects when they run it and by `zmigrate lint`. */
export const POSTGRES_LEX: LexOptions = {
  dollarQuotes: true,
  backticks: false,
  backslashEscapes: false,
  atomicBlocks: true,
  escapeStrings: true,
  nestedComments: true,
};
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
    const skipped = skipNonCode(sql, i, options);
    if (skipped) {
      if (skipped.kind === 'comment') hasComments = true;
      else hasCode = true;
      i = skipped.end;
    } else if (ch === ';' && depth === 0) {
      push(i);
      start = i + 1;
      i += 1;
    } else if ((options.compoundBlocks || options.atomicBlocks) && /[A-Za-z_]/.test(ch) && !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? ' ')) {
      hasCode = true;
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))![0];
      depth = options.compoundBlocks
        ? blockDepth(depth, word.toUpperCase(), sql.slice(i + word.length), sql.slice(start, i))
        : atomicDepth(depth, word.toUpperCase(), () => codeOf(sql.slice(start, i), options));
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

/** A statement so far (its code: comments are blanks) that creates a function or procedure. */
const ROUTINE_HEAD = /^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\b/i;

/**
 * The code of a statement: each comment becomes a space, each string or
 * dollar-quoted body `''` and each quoted identifier `""`, so a test for a
 * keyword sees only keywords (`-- CONCURRENTLY` and `'VACUUM'` are not code).
 */
export function codeOf(sql: string, options: LexOptions): string {
  let code = '';
  let i = 0;
  while (i < sql.length) {
    const skipped = skipNonCode(sql, i, options);
    if (skipped) {
      code += skipped.kind === 'comment' ? ' ' : skipped.kind === 'string' ? "''" : '""';
      i = skipped.end;
    } else {
      code += sql[i];
      i += 1;
    }
  }
  return code;
}

/** `sql` with `replace` applied to each stretch of code between its comments, strings and quoted identifiers. */
export function mapCode(sql: string, options: LexOptions, replace: (code: string) => string): string {
  let out = '';
  let code = '';
  let i = 0;
  while (i < sql.length) {
    const skipped = skipNonCode(sql, i, options);
    if (skipped) {
      out += replace(code) + sql.slice(i, skipped.end);
      code = '';
      i = skipped.end;
    } else {
      code += sql[i];
      i += 1;
    }
  }
  return out + replace(code);
}

/** A comment, string, dollar-quoted body or quoted identifier that starts at `i`: what it is and where it ends. */
function skipNonCode(sql: string, i: number, options: LexOptions): { kind: 'comment' | 'string' | 'identifier'; end: number } | undefined {
  const ch = sql[i];
  const next = sql[i + 1];
  if ((ch === '-' && next === '-') || (ch === '#' && options.backticks)) {
    const nl = sql.indexOf('\n', i);
    return { kind: 'comment', end: nl < 0 ? sql.length : nl + 1 };
  }
  if (ch === '/' && next === '*') return { kind: 'comment', end: blockCommentEnd(sql, i, Boolean(options.nestedComments)) };
  const wordBefore = /[A-Za-z0-9_$]/.test(sql[i - 1] ?? ' ');
  if (options.escapeStrings && (ch === 'E' || ch === 'e') && next === "'" && !wordBefore)
    return { kind: 'string', end: skipQuoted(sql, i + 1, "'", true) };
  if (ch === "'" || (ch === '"' && options.backticks)) return { kind: 'string', end: skipQuoted(sql, i, ch, options.backslashEscapes) };
  if (ch === '"' || (ch === '`' && options.backticks)) return { kind: 'identifier', end: skipQuoted(sql, i, ch, false) };
  if (ch === '$' && options.dollarQuotes && !wordBefore) {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
    if (!tag) return undefined;
    const end = sql.indexOf(tag[0], i + tag[0].length);
    return { kind: 'string', end: end < 0 ? sql.length : end + tag[0].length };
  }
  return undefined;
}

/** Where the block comment opened at `openAt` ends; PostgreSQL counts nested `/*` openings. */
export function blockCommentEnd(sql: string, openAt: number, nested: boolean): number {
  let depth = 1;
  let i = openAt + 2;
  while (i < sql.length) {
    if (sql[i] === '*' && sql[i + 1] === '/') {
      i += 2;
      if (--depth === 0) return i;
    } else if (nested && sql[i] === '/' && sql[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else {
      i += 1;
    }
  }
  return sql.length;
}

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
