import chalk from 'chalk';
import type { Logger } from '../engine/logger';

/** Colours only on a TTY, never with NO_COLOR; every line is scrubbed of the password. */
export class Output {
  readonly color: chalk.Chalk;

  constructor(
    private readonly secret: () => string | undefined,
    stream: NodeJS.WriteStream = process.stdout,
  ) {
    const useColor = Boolean(stream.isTTY) && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
    this.color = new chalk.Instance({ level: useColor ? 1 : 0 });
  }

  scrub(text: string): string {
    const secret = this.secret();
    return secret ? text.split(secret).join('***') : text;
  }

  out(line: string): void {
    process.stdout.write(`${this.scrub(line)}\n`);
  }

  err(line: string): void {
    process.stderr.write(`${this.scrub(line)}\n`);
  }

  /** Progress goes to stderr, so stdout stays clean for what scripts read. */
  logger(): Logger {
    return {
      info: (m) => this.err(this.color.bold(m)),
      step: (m) => this.err(`  ${this.color.dim('·')} ${m}`),
      warn: (m) => this.err(`  ${this.color.yellow('!')} ${m}`),
    };
  }
}
