export interface LexOptions {
  /** PostgreSQL `$tag$ … $tag$` strings. */
  dollarQuotes: boolean;
  /** MySQL `identifier` quoting. */
  backticks: boolean;
  /** MySQL: a backslash escapes the next character inside a string. */
  backslashEscapes: boolean;
}

/**
 * Splits SQL text on top-level semicolons. Quotes, comments and dollar-quoted
 * bodies are skipped, so a semicolon inside a function body does not split it.
 * Empty statements (and ones made only of comments) are dropped.
 */
export function splitSql(sql: string, options: LexOptions): string[] {
  return lexSql(sql, options).statements;
}

/** The statements of `sql`, and whether it holds a comment outside quotes. */
export function lexSql(sql: string, options: LexOptions): { statements: string[]; hasComments: boolean } {
  const statements: string[] = [];
  let hasComments = false;
  let start = 0;
  let hasCode = false;
  let i = 0;
  const push = (end: number) => {
    const text = sql.slice(start, end).trim();
    if (hasCode && text) statements.push(text);
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
    } else if (ch === ';') {
      push(i);
      start = i + 1;
      i += 1;
    } else {
      if (!/\s/.test(ch)) hasCode = true;
      i += 1;
    }
  }
  push(sql.length);
  return { statements, hasComments };
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
