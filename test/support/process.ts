/**
 * A zmigrate CLI process the test controls while it runs: watch its stderr
 * for a line, kill it, or wait for it to end. (runCli only gives the end.)
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { BIN, cliEnv, runCli, type CliResult } from './cli';

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when stderr has a line matching `pattern`; rejects if the process ends first or after timeoutMs. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves when the process has ended. */
  done: Promise<CliResult>;
  /** True once the process has ended. */
  readonly ended: boolean;
}

/** Processes still running; one a failed test left behind is killed when that test ends, not left waiting on a lock. */
const running = new Set<ChildProcessWithoutNullStreams>();
if (typeof afterEach === 'function')
  afterEach(() => {
    for (const child of running) child.kill('SIGKILL');
    running.clear();
  });

export function startCli(args: string[], env: Record<string, string | undefined>): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: cliEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  child.on('close', () => running.delete(child));
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  let ended = false;
  const listeners = new Set<() => void>();
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    for (const l of [...listeners]) l();
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      ended = true;
      for (const l of [...listeners]) l();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get ended() {
      return ended;
    },
    done,
    waitForStderr(pattern, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stderr.split('\n').some((line) => pattern.test(line))) {
            finish();
            resolve();
          } else if (ended) {
            finish();
            reject(
              new Error(
                `the process ended (stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}) before stderr matched ${pattern}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`stderr did not match ${pattern} within ${timeoutMs} ms; stderr so far: ${JSON.stringify(stderr)}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Kills the process with SIGKILL (as kill -9 would) and waits until it is gone. */
export async function kill9(running: RunningCli): Promise<CliResult> {
  running.child.kill('SIGKILL');
  return running.done;
}

/**
 * Runs `command` again and again, each time killed (SIGKILL) right after it
 * prints the next line of `lines`, then once more to the end; returns that
 * last run. A run that ends by itself (a line a finished step no longer
 * prints, or steps after the line quicker than the kill) has done the
 * command, and is the last. Where not one kill landed, `again` puts the
 * database back as it was before the command and it starts over (up to
 * three times); without it, that is an error: such a run proves nothing.
 */
export async function killedAlong(
  url: string,
  dir: string,
  command: string,
  lines: RegExp[],
  again?: () => Promise<unknown>,
): Promise<CliResult> {
  for (let attempt = 1; ; attempt++) {
    let kills = 0;
    let finished: CliResult | undefined;
    for (const line of lines) {
      const run = startCli([command, '--dir', dir], { ZMIGRATE_DATABASE_URL: url });
      const seen = await run.waitForStderr(line).then(
        () => true,
        () => false,
      );
      const result = seen ? await kill9(run) : await run.done;
      if (result.signal === 'SIGKILL') {
        kills += 1;
        continue;
      }
      if (result.code !== 0) throw new Error(`${command} failed (${result.code}): ${result.stderr}`);
      finished = result;
      break;
    }
    if (kills > 0) return finished ?? runCli([command, '--dir', dir], { env: { ZMIGRATE_DATABASE_URL: url } });
    if (!again || attempt === 3) throw new Error(`${command} ran to its end before a kill landed, ${attempt} time(s)`);
    await again();
  }
}

/** The SQL that sleeps `seconds` on the engine (a statement slow enough to be caught in the middle). */
export function sleepSql(engine: string, seconds: number): string {
  return engine === 'mysql' ? `SELECT SLEEP(${seconds})` : `SELECT pg_sleep(${seconds})`;
}

export interface StatusEntry {
  name: string;
  phase: string;
  versionSchema: string | null;
}

/** Parses `zmigrate status --json`. */
export function parseStatus(result: CliResult): Map<string, StatusEntry> {
  if (result.code !== 0) throw new Error(`status failed (${result.code}): ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as { migrations: StatusEntry[] };
  return new Map(parsed.migrations.map((m) => [m.name, m]));
}
