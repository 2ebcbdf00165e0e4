/** Where a CLI run writes, and the environment and folder it runs in. */
export interface CliIO {
  stdout: CliStream;
  stderr: CliStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export interface CliStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** The process's own streams, environment and folder: what `bin/zmigrate.js` runs with. */
export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
