import { splitSql, type LexOptions } from '../dialects/sql-split';
import { factsFromMysql, loadMysqlParser } from './mysql';
import { factsFromPostgres, loadPostgresParser } from './postgres';
import type { AnalyzedStatement, LintEngine } from './statement';
import { factsFromTokens } from './token-facts';
import { ignoreDirectives, tokenize } from './tokens';

/** Statements are split as the dialects split them when zmigrate runs them. */
const LEX: Record<LintEngine, LexOptions> = {
  postgres: { dollarQuotes: true, backticks: false, backslashEscapes: false },
  mysql: { dollarQuotes: false, backticks: true, backslashEscapes: true, compoundBlocks: true },
};

export interface ParsedStatement extends AnalyzedStatement {
  /** The statement without its leading comments. */
  readonly code: string;
  /** Rule ids silenced by `zmigrate-lint-ignore` comments before the statement. */
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

  const analyze = (sql: string): ParsedStatement => {
    const { tokens, comments, codeStart } = tokenize(sql, engine);
    const code = sql.slice(codeStart).trim();
    const ignored = ignoreDirectives(comments.filter((c) => c.at < codeStart));
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
        result = parsePostgres(code);
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
    statements: (sql) => splitSql(sql, LEX[engine]).map(analyze),
    directives: (sql) => ignoreDirectives(tokenize(sql, engine).comments),
  };
}
