import path from 'node:path';
import { ConfigError } from '../../errors';
import { lintReport, RULES_BY_ID, type LintEngine, type LintFinding, type LintNote } from '../../lint';
import { loadMigrations } from '../../migration/loader';
import { loadConfig, urlFromKnexfile } from '../config';
import type { Command, CommandContext } from '../context';
import type { Output } from '../output';

export type LintFormat = 'tty' | 'json' | 'github';

/**
 * Flags unsafe SQL in migration files; needs no database. Exit 1 when there
 * are findings, 0 when clean (2, as everywhere, for bad usage or a bad file).
 * A TypeScript phase lint could not run is a note, which leaves the exit
 * code alone: the migration is valid, lint just could not see its SQL.
 */
export const lint: Command = async (ctx) => {
  const format = lintFormat(ctx.args);
  const config = await loadConfig(ctx.args.config, ctx.io.cwd);
  const engine = await lintEngine(ctx, config.url);
  const migrations = await loadMigrations(await ctx.dir());
  const { findings, notes } = await lintReport(migrations, { engine, lockTimeoutMs: ctx.args.lockTimeout ?? config.lockTimeout });
  if (format === 'json') printJson(ctx.output, engine, findings, notes);
  else if (format === 'github') printGithub(ctx.output, findings, notes, migrations.length, ctx.io.cwd);
  else printTty(ctx.output, engine, findings, notes, migrations.length, ctx.io.cwd);
  return findings.length > 0 ? 1 : 0;
};

function lintFormat(args: CommandContext['args']): LintFormat {
  const format = args.format as LintFormat | undefined;
  if (args.json && format && format !== 'json')
    throw new ConfigError(`--json and --format ${format} disagree`, { hint: 'give one of them' });
  return args.json ? 'json' : (format ?? 'tty');
}

/** --engine, else the URL's scheme (only its scheme: lint never connects), else PostgreSQL. */
async function lintEngine(ctx: CommandContext, configUrl: string | undefined): Promise<LintEngine> {
  const given = ctx.args.engine as string | undefined;
  if (given) return given === 'postgres' ? 'postgres' : 'mysql';
  const knexfile = ctx.args.knexfile
    ? await urlFromKnexfile(String(ctx.args.knexfile), ctx.args.env as string | undefined, ctx.io)
    : undefined;
  const url = ctx.args.url ?? knexfile ?? ctx.io.env.ZMIGRATE_DATABASE_URL ?? configUrl;
  if (!url) return 'postgres';
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url.trim())?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql' || scheme === 'pglite') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  throw new ConfigError(`cannot tell the engine from the database URL's scheme ${JSON.stringify(scheme ?? '')}`, {
    hint: 'pass --engine postgres or --engine mysql',
  });
}

function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** `notes` only when there are some, so a clean run's shape stays `{ engine, findings }`. */
function printJson(output: Output, engine: LintEngine, findings: LintFinding[], notes: LintNote[]): void {
  output.out(
    JSON.stringify({
      engine,
      findings: findings.map((f) => ({
        migration: f.migration,
        phase: f.phase,
        rule: f.rule,
        message: f.message,
        statement: f.statement,
        file: f.file,
        line: f.line ?? null,
      })),
      ...(notes.length > 0
        ? { notes: notes.map((n) => ({ migration: n.migration, phase: n.phase, message: n.message, file: n.file, line: n.line ?? null })) }
        : {}),
    }),
  );
}

/** GitHub Actions workflow commands: each finding becomes an error annotation on its line. */
function printGithub(output: Output, findings: LintFinding[], notes: LintNote[], migrationCount: number, cwd: string): void {
  for (const f of findings) {
    const rule = RULES_BY_ID.get(f.rule);
    const properties = [
      `file=${escapeProperty(displayPath(f.file, cwd))}`,
      ...(f.line ? [`line=${f.line}`] : []),
      `title=${escapeProperty(`zmigrate lint: ${f.rule} (${f.phase})`)}`,
    ];
    const body = [f.message, '', firstLines(f.statement, 3), ...(rule ? ['', `instead: ${rule.instead}`] : [])].join('\n');
    output.out(`::error ${properties.join(',')}::${escapeData(body)}`);
  }
  for (const n of notes) {
    const properties = [
      `file=${escapeProperty(displayPath(n.file, cwd))}`,
      ...(n.line ? [`line=${n.line}`] : []),
      `title=${escapeProperty(`zmigrate lint: not linted (${n.phase})`)}`,
    ];
    output.out(`::warning ${properties.join(',')}::${escapeData(n.message)}`);
  }
  output.err(summary(findings, migrationCount, notes));
}

function printTty(
  output: Output,
  engine: LintEngine,
  findings: LintFinding[],
  notes: LintNote[],
  migrationCount: number,
  cwd: string,
): void {
  const { color } = output;
  for (const f of findings) {
    const rule = RULES_BY_ID.get(f.rule);
    const where = `${displayPath(f.file, cwd)}${f.line ? `:${f.line}` : ''}`;
    output.out(`${color.bold(where)} ${color.dim(`${f.migration} · ${f.phase}`)} ${color.red(f.rule)}`);
    output.out(`  ${f.message}`);
    for (const line of firstLines(f.statement, 6).split('\n')) output.out(color.dim(`  │ ${line}`));
    if (rule) {
      output.out(`  ${color.yellow('why:')} ${rule.why}`);
      output.out(`  ${color.green('instead:')} ${rule.instead}`);
    }
    output.out('');
  }
  for (const n of notes) {
    output.out(
      `${color.bold(`${displayPath(n.file, cwd)}${n.line ? `:${n.line}` : ''}`)} ${color.dim(`${n.migration} · ${n.phase}`)} ${color.yellow('not linted')}`,
    );
    output.out(`  ${n.message}`);
    output.out('');
  }
  if (findings.length === 0) {
    output.out(`${color.green('✓')} ${summary(findings, migrationCount, notes)} (${engine})`);
  } else {
    output.out(`${color.red('✗')} ${summary(findings, migrationCount, notes)} (${engine})`);
    output.out(color.dim('  silence one on a statement with a comment before it: -- zmigrate-lint-ignore <rule>'));
  }
}

function summary(findings: LintFinding[], migrationCount: number, notes: LintNote[]): string {
  const migrations = `${migrationCount} migration${migrationCount === 1 ? '' : 's'}`;
  const unseen = notes.length > 0 ? `; ${notes.length} TypeScript phase${notes.length === 1 ? '' : 's'} not linted` : '';
  if (findings.length === 0) return `no unsafe SQL in ${migrations}${unseen}`;
  const affected = new Set(findings.map((f) => f.migration)).size;
  return `${findings.length} finding${findings.length === 1 ? '' : 's'} in ${affected} of ${migrations}${unseen}`;
}

function firstLines(text: string, count: number): string {
  const lines = text.split('\n');
  return lines.length > count ? [...lines.slice(0, count), '…'].join('\n') : text;
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
