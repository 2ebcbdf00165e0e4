import type { Interrupts } from './interrupts';

/** Where a CLI run writes, and the environment and folder it runs in. */
export interface CliIO {
  stdout: CliStream;
  stderr: CliStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** SIGINT and SIGTERM, for the commands that stop gracefully (bin/zmigrate.js's process gives its own; without, they are not caught). */
  interrupts?: Interrupts;
}

export interface CliStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** The process's own streams, environment and folder: what `bin/zmigrate.js` runs with. */
export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
