import { blockCommentEnd } from '../dialects/sql-split';
import type { LintEngine } from './statement';

/**
 * A small SQL tokenizer: words, quoted identifiers, strings, numbers and
 * punctuation, with comments set apart. It is the fallback for statements a
 * parser cannot handle, and it finds the ignore directives in comments.
 */
export interface Token {
  readonly kind: 'word' | 'ident' | 'string' | 'number' | 'punct';
  /** Words: upper case. Quoted identifiers and strings: their content. Others: as written. */
  readonly value: string;
  /** Words: as written. */
  readonly text: string;
}

export interface Tokenized {
  tokens: Token[];
  /** Comment bodies with the offset where each comment starts. */
  comments: Array<{ at: number; text: string }>;
  /** Offset of the first token, or the length when there is none. */
  codeStart: number;
}

export function tokenize(sql: string, engine: LintEngine): Tokenized {
  const mysql = engine === 'mysql';
  const tokens: Token[] = [];
  const comments: Array<{ at: number; text: string }> = [];
  let codeStart = -1;
  let i = 0;
  const push = (at: number, token: Token) => {
    if (codeStart < 0) codeStart = at;
    tokens.push(token);
  };
  while (i < sql.length) {
    const ch = sql[i];
    const next = sql[i + 1];
    if (/\s/.test(ch)) {
      i += 1;
    } else if ((ch === '-' && next === '-') || (ch === '#' && mysql)) {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      comments.push({ at: i, text: sql.slice(i + (ch === '#' ? 1 : 2), stop) });
      i = stop;
    } else if (ch === '/' && next === '*') {
      // PostgreSQL's block comments nest; MySQL's end at the first */.
      const end = blockCommentEnd(sql, i, !mysql);
      const closed = sql.slice(end - 2, end) === '*/' && end - 2 > i + 1;
      comments.push({ at: i, text: sql.slice(i + 2, closed ? end - 2 : end) });
      i = end;
    } else if (ch === "'" || (ch === '"' && mysql) || ((ch === 'E' || ch === 'e') && next === "'" && !mysql)) {
      const start = i;
      const escapes = mysql || ch !== "'";
      if (ch !== "'" && ch !== '"') i += 1;
      const quote = sql[i];
      const [value, end] = readQuoted(sql, i, quote, escapes);
      push(start, { kind: 'string', value, text: sql.slice(start, end) });
      i = end;
    } else if ((ch === '"' && !mysql) || (ch === '`' && mysql)) {
      const [value, end] = readQuoted(sql, i, ch, false);
      push(i, { kind: 'ident', value, text: sql.slice(i, end) });
      i = end;
    } else if (ch === '$' && !mysql && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))![0];
      const end = sql.indexOf(tag, i + tag.length);
      const stop = end < 0 ? sql.length : end;
      push(i, { kind: 'string', value: sql.slice(i + tag.length, stop), text: sql.slice(i, end < 0 ? stop : stop + tag.length) });
      i = end < 0 ? sql.length : end + tag.length;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(ch)) {
      const word = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(sql.slice(i))![0];
      push(i, { kind: 'word', value: word.toUpperCase(), text: word });
      i += word.length;
    } else if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(next ?? ''))) {
      const number = /^[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?/.exec(sql.slice(i))![0];
      push(i, { kind: 'number', value: number, text: number });
      i += number.length;
    } else {
      push(i, { kind: 'punct', value: ch, text: ch });
      i += 1;
    }
  }
  return { tokens, comments, codeStart: codeStart < 0 ? sql.length : codeStart };
}

function readQuoted(sql: string, openAt: number, quote: string, backslashEscapes: boolean): [string, number] {
  let value = '';
  let i = openAt + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashEscapes && ch === '\\') {
      value += sql[i + 1] ?? '';
      i += 2;
    } else if (ch === quote) {
      if (sql[i + 1] === quote) {
        value += quote;
        i += 2;
      } else {
        return [value, i + 1];
      }
    } else {
      value += ch;
      i += 1;
    }
  }
  return [value, sql.length];
}

const DIRECTIVE = /zmigrate-lint-ignore\b([^\n]*)/;

/**
 * Rule ids named by `zmigrate-lint-ignore` comments among the given ones:
 * `a, b c`. An id followed by `:` or `.` ends the list, and the rest is a
 * reason (`-- zmigrate-lint-ignore drop-column-in-expand: unused since v3`).
 */
export function ignoreDirectives(comments: ReadonlyArray<{ text: string }>): Set<string> {
  const ids = new Set<string>();
  for (const comment of comments) {
    const match = DIRECTIVE.exec(comment.text);
    if (!match) continue;
    for (const word of match[1].replace(/\*\/.*$/, '').split(/[\s,]+/)) {
      const id = word.replace(/[:.,]+$/, '');
      if (id) ids.add(id);
      if (/[:.]$/.test(word)) break;
    }
  }
  return ids;
}
