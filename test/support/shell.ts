/**
 * A bash session a test feeds one command at a time, as a user types them
 * (test/docs.test.ts runs the guides' commands through it).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface ShellResult {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * One bash session, fed a command at a time as a user types them: aliases,
 * exports and variables carry over from one command to the next.
 */
export class Shell {
  readonly #child: ChildProcessWithoutNullStreams;
  #stdout = '';
  #stderr = '';
  #count = 0;
  #wake: () => void = () => undefined;
  /** Every command run, in order. */
  readonly history: string[] = [];

  constructor(cwd: string, env: Record<string, string | undefined> = {}) {
    this.#child = spawn('bash', ['--noprofile', '--norc'], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ZMIGRATE_DATABASE_URL: undefined, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child.stdout.on('data', (d) => {
      this.#stdout += d;
      this.#wake();
    });
    this.#child.stderr.on('data', (d) => {
      this.#stderr += d;
      this.#wake();
    });
    this.#child.on('close', () => this.#wake());
    this.#child.stdin.write('shopt -s expand_aliases\n');
  }

  async run(command: string, timeoutMs = 60_000): Promise<ShellResult> {
    this.history.push(command);
    const marker = `__zmigrate_docs_${++this.#count}__`;
    const outFrom = this.#stdout.length;
    const errFrom = this.#stderr.length;
    // A group of its own, so a trailing comment ends with the line; stdin is not the script's.
    this.#child.stdin.write(`{\n${command}\n} </dev/null\nprintf '\\n${marker} %s\\n' "$?"; printf '\\n${marker}\\n' >&2\n`);
    const deadline = Date.now() + timeoutMs;
    const done = new RegExp(`\\n${marker} (\\d+)\\n`);
    for (;;) {
      const exit = done.exec(this.#stdout.slice(outFrom));
      const errEnd = this.#stderr.indexOf(`\n${marker}\n`, errFrom);
      if (exit && errEnd >= 0) {
        return {
          command,
          code: Number(exit[1]),
          stdout: this.#stdout.slice(outFrom, outFrom + exit.index),
          stderr: this.#stderr.slice(errFrom, errEnd),
        };
      }
      if (this.#child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `${command}: no end (stdout ${JSON.stringify(this.#stdout.slice(outFrom))}, stderr ${JSON.stringify(this.#stderr.slice(errFrom))})`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#child.exitCode !== null) return resolve();
      this.#child.on('close', () => resolve());
      this.#child.stdin.end('exit\n');
    });
  }
}

/** A word for the shell, whatever it holds. */
export const shellWord = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
