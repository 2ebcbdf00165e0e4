import { lexSql, MYSQL_LEX, POSTGRES_LEX, type LexOptions, type StatementSpan } from '../dialects/sql-split';
import { factsFromMysql, loadMysqlParser } from './mysql';
import { factsFromPostgres, loadPostgresParser } from './postgres';
import type { AnalyzedStatement, LintEngine } from './statement';
import { factsFromTokens } from './token-facts';
import { ignoreDirectives, tokenize } from './tokens';

/** Statements are split as the dialects split them when zmigrate runs them. */
const LEX: Record<LintEngine, LexOptions> = { postgres: POSTGRES_LEX, mysql: MYSQL_LEX };

export interface ParsedStatement extends AnalyzedStatement {
  /** The statement without its leading comments. */
  readonly code: string;
  /** Rule ids silenced by `zmigrate-lint-ignore` comments before the statement, or after its `;` on its last line. */
  readonly ignored: ReadonlySet<string>;
}

export interface Analyzer {
  readonly engine: LintEngine;
  /** Splits SQL text into statements and analyzes each. */
  statements(sql: string): ParsedStatement[];
  /** Rule ids named by ignore comments anywhere in the text. */
  directives(sql: string): Set<string>;
}

/**
 * `parser: 'tokens'` skips the parsers: the fallback alone, so tests can
 * show it gives the same answers.
 */
export async function createAnalyzer(engine: LintEngine, options: { parser?: 'auto' | 'tokens' } = {}): Promise<Analyzer> {
  const tokensOnly = options.parser === 'tokens';
  const parsePostgres = engine === 'postgres' && !tokensOnly ? await loadPostgresParser() : undefined;
  const parseMysql = engine === 'mysql' && !tokensOnly ? await loadMysqlParser() : undefined;

  const analyze = (sql: string, ignored: ReadonlySet<string>): ParsedStatement => {
    const { tokens, codeStart } = tokenize(sql, engine);
    const code = sql.slice(codeStart).trim();
    const fallback = (syntaxError?: string): ParsedStatement => ({
      sql,
      code,
      ignored,
      parser: 'tokens',
      syntaxError,
      ...factsFromTokens(tokens, engine),
    });
    if (parsePostgres) {
      let result;
      try {
        // The whole statement: PostgreSQL's own lexer reads its comments (nested ones too).
        result = parsePostgres(sql);
      } catch (error) {
        // A parser that fails for another reason than the SQL says nothing about the SQL.
        if (!(error instanceof Error) || !('sqlDetails' in error)) return fallback();
        return fallback(error.message);
      }
      return { sql, code, ignored, parser: 'libpg-query', facts: factsFromPostgres(result) };
    }
    if (parseMysql) {
      try {
        return { sql, code, ignored, parser: 'node-sql-parser', ...factsFromMysql(parseMysql(code)) };
      } catch {
        return fallback();
      }
    }
    return fallback();
  };

  return {
    engine,
    statements: (sql) => {
      const { statements, spans } = lexSql(sql, LEX[engine]);
      const ignored = ignoredByStatement(sql, statements, spans, engine);
      return statements.map((text, i) => analyze(text, ignored[i]));
    },
    directives: (sql) => ignoreDirectives(tokenize(sql, engine).comments),
  };
}

/**
 * The rule ids each statement's ignore comments name. A statement's text
 * starts right after the previous `;`, so a comment at the end of the
 * previous statement's line (`…; -- zmigrate-lint-ignore x`) leads it: such
 * a comment, with nothing but itself on the rest of that line, belongs to the
 * statement before it.
 */
function ignoredByStatement(sql: string, texts: string[], spans: StatementSpan[], engine: LintEngine): Array<Set<string>> {
  const ignored = texts.map(() => new Set<string>());
  texts.forEach((text, i) => {
    const { comments, codeStart } = tokenize(text, engine);
    for (const comment of comments.filter((c) => c.at < codeStart)) {
      const trailsPrevious =
        i > 0 &&
        !sql.slice(spans[i - 1].end, spans[i].start + comment.at).includes('\n') &&
        text.slice(comment.at, codeStart).includes('\n');
      for (const id of ignoreDirectives([comment])) ignored[trailsPrevious ? i - 1 : i].add(id);
    }
  });
  const last = spans.length - 1;
  if (last >= 0) {
    const restOfLine = sql.slice(spans[last].end).split('\n')[0];
    for (const id of ignoreDirectives(tokenize(restOfLine, engine).comments)) ignored[last].add(id);
  }
  return ignored;
}
