import { readFileSync } from 'node:fs';
import path from 'node:path';
import yargs, { type Options } from 'yargs';
import { checkNumberOptions, Migrator, type NumberOption } from '../api';
import { ConfigError, InterruptedError, ZmigrateError } from '../errors';
import { loadConfig, urlFromKnexfile, type ZmigrateConfig } from './config';
import type { Command, CommandContext, GlobalArgs } from './context';
import { processIO, type CliIO } from './io';
import { processInterrupts, signalExitCode, type StopSignal } from './interrupts';
import { Output } from './output';
import { backfill } from './commands/backfill';
import { contract } from './commands/contract';
import { expand } from './commands/expand';
import { newMigration } from './commands/new';
import { lint } from './commands/lint';
import { plan } from './commands/plan';
import { rollback } from './commands/rollback';
import { schema } from './commands/schema';
import { status } from './commands/status';
import { OPERATION_TEMPLATES } from './templates';

const COMMANDS: Array<{
  name: string;
  describe: string;
  run: Command;
  json?: boolean;
  positional?: string;
  options?: Record<string, Options>;
  /** Changes the database: a first SIGINT or SIGTERM stops it where it resumes from. */
  stoppable?: true;
}> = [
  {
    name: 'expand',
    describe: 'expand every pending migration: new shape beside the old, version schema for the new app',
    run: expand,
    stoppable: true,
  },
  { name: 'contract', describe: 'contract every expanded migration: remove the old shape', run: contract, stoppable: true },
  { name: 'rollback', describe: 'undo the newest expanded, not yet contracted, migration', run: rollback, stoppable: true },
  { name: 'backfill', describe: 'resume or re-run backfills, and verify them', run: backfill, stoppable: true },
  {
    name: 'status',
    describe: 'each migration and its phase',
    run: status,
    json: true,
    options: {
      check: { type: 'boolean', describe: 'exit 0 all complete, 3 pending, 4 expanded awaiting contract, 5 failed or half-done' },
    },
  },
  { name: 'schema', describe: 'print the latest version schema name (for deploy scripts)', run: schema },
  {
    name: 'plan',
    describe: 'print the SQL expand, contract and rollback would run; run nothing',
    run: plan,
    json: true,
    options: {
      phase: {
        type: 'string',
        array: true,
        choices: ['expand', 'contract', 'rollback'],
        describe: 'only these phases (repeatable)',
        defaultDescription: 'all three',
      },
    },
  },
  {
    name: 'lint',
    describe: 'flag unsafe SQL in migration files (no database needed)',
    run: lint,
    json: true,
    options: {
      engine: {
        type: 'string',
        choices: ['postgres', 'mysql', 'mariadb'],
        describe: 'SQL dialect to lint for',
        defaultDescription: 'the --url scheme, else postgres',
      },
      format: {
        type: 'string',
        choices: ['tty', 'json', 'github'],
        describe: 'output: human text, JSON, or GitHub Actions annotations',
        defaultDescription: 'tty',
      },
    },
  },
  {
    name: 'new',
    describe: 'scaffold a migration file',
    run: newMigration,
    positional: 'name',
    options: { op: { type: 'string', describe: `template: ${Object.keys(OPERATION_TEMPLATES).join(', ')}`, default: 'sql' } },
  },
];

/** The flag for each numeric option, to name it in a message (--wait and --throttle-max-wait take seconds). */
const FLAGS: Record<NumberOption, string> = {
  lockTimeoutMs: '--lock-timeout',
  lockRetries: '--lock-retries',
  runnerLockWaitMs: '--wait',
  batchSize: '--batch-size',
  batchTimeMs: '--batch-time',
  batchDelayMs: '--batch-delay',
  jobs: '--jobs',
  maxLagMs: '--max-lag',
  throttleMaxWaitMs: '--throttle-max-wait',
};

/**
 * Runs the CLI and exits with 0 (success), 1 (a migration failed), 2 (bad
 * usage or input), or 130 / 143 (stopped by SIGINT / SIGTERM, resumable).
 */
export async function main(argv: string[]): Promise<void> {
  const interrupts = processInterrupts();
  try {
    process.exitCode = await run(argv, { ...processIO(), interrupts });
  } finally {
    interrupts.dispose();
  }
}

/**
 * Runs one command and returns its exit code. `io` is the process's own by
 * default; tests and tools that embed the CLI give their own streams,
 * environment and folder.
 */
export async function run(argv: string[], io: CliIO = processIO()): Promise<number> {
  const { env, cwd } = io;
  let url: string | undefined = env.ZMIGRATE_DATABASE_URL;
  let replicaUrls: string[] = [];
  const output = new Output(() => [url, ...replicaUrls], io);
  let verbose = argv.includes('--verbose');
  let migrator: Migrator | undefined;
  const logger = output.logger();
  /** The command's name, for the line that says how to resume it. */
  let command = '';
  try {
    let chosen: Command | undefined;
    let usageError: string | undefined;
    const parser = yargs(argv)
      .scriptName('zmigrate')
      .usage('$0 <command> [options]')
      .option('url', {
        type: 'string',
        describe: 'database URL (or ZMIGRATE_DATABASE_URL): postgres://…, mysql://…, mariadb://…, pglite:memory, pglite:<folder>',
      })
      .option('dir', { type: 'string', describe: 'migrations folder', defaultDescription: './migrations' })
      .option('config', { type: 'string', describe: 'config file', defaultDescription: 'zmigrate.config.{ts,js,json}' })
      .option('knexfile', { type: 'string', describe: "take the connection from a knex project's knexfile" })
      .option('env', { type: 'string', describe: 'knexfile environment', defaultDescription: 'NODE_ENV or development' })
      .option('lock-timeout', { type: 'number', describe: 'longest a DDL statement waits for a lock, in ms', defaultDescription: '500' })
      .option('lock-retries', {
        type: 'number',
        describe: 'retries after a lock timeout (exponential backoff with jitter)',
        defaultDescription: '10',
      })
      .option('wait', { type: 'number', describe: 'seconds to wait for another runner to finish', default: 60 })
      .option('batch-size', { type: 'number', describe: 'rows per backfill batch (default: adapts to --batch-time)' })
      .option('batch-time', { type: 'number', describe: 'target ms per backfill batch', defaultDescription: '50' })
      .option('batch-delay', { type: 'number', describe: 'ms to pause between backfill batches', defaultDescription: '0' })
      .option('jobs', {
        type: 'number',
        describe: 'backfill batches (and verification segments) run side by side, each in its own session; 1 is the gentlest',
        defaultDescription: '2',
      })
      .option('max-lag', {
        type: 'number',
        describe: 'pause backfills while a replica lags more than this many ms; 0 turns it off',
        defaultDescription: '1500',
      })
      .option('replica-url', {
        type: 'string',
        describe: 'a replica to watch for lag (repeatable; MySQL/MariaDB needs it, PostgreSQL also sees its replicas itself)',
      })
      .option('throttle-max-wait', {
        type: 'number',
        describe: 'seconds a backfill may stay paused for lag before the run stops (resumable)',
        defaultDescription: 'no limit',
      })
      .option('verbose', { type: 'boolean', describe: 'show stack traces' })
      .strict()
      .demandCommand(1, 'name a command')
      .recommendCommands()
      .help()
      .version(packageVersion())
      .exitProcess(false)
      .fail((msg, err) => {
        usageError = msg ?? err?.message;
      });
    for (const c of COMMANDS) {
      const spec = c.positional ? `${c.name} <${c.positional}>` : c.name;
      parser.command(
        spec,
        c.describe,
        (y) => {
          const withJson = c.json ? y.option('json', { type: 'boolean', describe: 'machine-readable output' }) : y;
          return c.options ? withJson.options(c.options) : withJson;
        },
        () => {
          chosen = c.run;
          command = c.name;
          if (c.stoppable) io.interrupts?.graceful((signal, again) => logger.warn(stopNotice(signal, again, c.name)));
        },
      );
    }
    // With a callback, yargs hands over what --help and --version print instead of printing it itself.
    let printed = '';
    const args = (await parser.parseAsync(argv, {}, (_error, _argv, text) => {
      printed = text;
    })) as unknown as GlobalArgs & Record<string, unknown>;
    if (usageError) throw new ConfigError(usageError, { hint: 'see zmigrate --help' });
    // Repeated, yargs gives a list, which each of these would take for one value.
    for (const name of ['url', 'dir', 'config', 'knexfile', 'env']) {
      if (Array.isArray(args[name])) throw new ConfigError(`--${name} given more than once`, { hint: 'see zmigrate --help' });
    }
    if (!chosen) {
      if (printed) output.out(printed); // --help, --version
      return 0;
    }
    verbose = Boolean(args.verbose);
    const config: ZmigrateConfig = await loadConfig(args.config, cwd);
    const knexfileUrl = args.knexfile ? await urlFromKnexfile(String(args.knexfile), args.env as string | undefined, io) : undefined;
    url = args.url ?? knexfileUrl ?? env.ZMIGRATE_DATABASE_URL ?? config.url;
    const dir = path.resolve(cwd, args.dir ?? config.dir ?? 'migrations');
    const lockTimeout = args.lockTimeout ?? config.lockTimeout;
    const lockRetries = args.lockRetries ?? config.lockRetries;
    // Repeated, yargs gives a list; once, a string (not `array: true`, which would swallow the command name).
    const replicaArgs = args.replicaUrl as string | string[] | undefined;
    replicaUrls = (replicaArgs === undefined ? (config.replicaUrls ?? []) : [replicaArgs].flat()).filter((u) => u.trim() !== '');
    const maxLag = (args.maxLag as number | undefined) ?? config.maxLag;
    const throttleMaxWait = (args.throttleMaxWait as number | undefined) ?? config.throttleMaxWait;
    const batches = {
      batchSize: args.batchSize as number | undefined,
      batchTimeMs: args.batchTime as number | undefined,
      batchDelayMs: args.batchDelay as number | undefined,
      jobs: args.jobs as number | undefined,
    };
    checkNumberOptions(
      {
        lockTimeoutMs: lockTimeout,
        lockRetries,
        runnerLockWaitMs: args.wait,
        ...batches,
        maxLagMs: maxLag,
        throttleMaxWaitMs: throttleMaxWait,
      },
      (name) => FLAGS[name],
    );
    const ctx: CommandContext = {
      args,
      io,
      output,
      dir: async () => dir,
      migrator: async () => {
        migrator ??= new Migrator({
          url: url ?? '',
          dir,
          lockTimeoutMs: lockTimeout,
          lockRetries,
          runnerLockWaitMs: (args.wait ?? 60) * 1000,
          ...batches,
          maxLagMs: maxLag,
          replicaUrls,
          throttleMaxWaitMs: throttleMaxWait === undefined ? undefined : throttleMaxWait * 1000,
          signal: io.interrupts?.signal,
          logger,
        });
        return migrator;
      },
    };
    return await chosen(ctx);
  } catch (error) {
    const signal = io.interrupts?.signal;
    if (error instanceof InterruptedError && signal?.aborted) {
      output.err(`${error.message}; run zmigrate ${command} to resume`);
      return signalExitCode(signal.reason as StopSignal);
    }
    return report(output, error, verbose);
  } finally {
    await migrator?.close();
  }
}

function stopNotice(signal: StopSignal, again: boolean, command: string): string {
  return again
    ? `${signal} again: exiting at once; run zmigrate ${command} to resume`
    : `${signal}: stopping once the work in flight is done and its checkpoint saved; ${signal} again exits at once`;
}

function report(output: Output, error: unknown, verbose: boolean): number {
  const color = output.errColor;
  if (error instanceof ZmigrateError) {
    const hint = error.hint ? ` (${error.hint})` : '';
    output.err(`${color.red('error:')} ${oneLine(error.message)}${color.dim(hint)}`);
    if (verbose) output.err(String(error.stack ?? '') + (error.cause instanceof Error ? `\ncaused by: ${error.cause.stack}` : ''));
    return error.exitCode;
  }
  const text = error instanceof Error ? error.message : String(error);
  output.err(`${color.red('error:')} ${oneLine(text)}${verbose ? '' : color.dim(' (run with --verbose for details)')}`);
  if (verbose && error instanceof Error) output.err(String(error.stack));
  return 1;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** The installed package's version, for --version (package.json sits two folders above dist/cli). */
function packageVersion(): string {
  const file = path.resolve(__dirname, '..', '..', 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
