import chalk from 'chalk';
import type { BackfillProgress, Logger } from '../engine/logger';
import type { CliIO, CliStream } from './io';
import { scrubPasswords } from '../dialects/url';

/**
 * Colours only on a TTY, never with NO_COLOR. Each stream is its own TTY or
 * not (`zmigrate expand 2> log` in a terminal), so each has its own colours.
 *
 * Results on stdout are printed as they are: they are what scripts read (a
 * version schema name, JSON), and no URL reaches them unredacted. Errors,
 * warnings and progress on stderr can carry a driver's text, so each line
 * there is scrubbed of the passwords of the URLs in use, and of any URL's.
 * Scrubbing stdout too turned `shop_0002_x` into `***_0002_x` wherever the
 * password was `shop`.
 */
export class Output {
  /** Colours for lines written with out(), to stdout. */
  readonly color: chalk.Chalk;
  /** Colours for lines written with err() and the logger, to stderr. */
  readonly errColor: chalk.Chalk;
  /** A progress bar is on stderr's last line, not yet ended. */
  #barShown = false;

  constructor(
    private readonly urls: () => ReadonlyArray<string | undefined>,
    private readonly io: CliIO,
  ) {
    const colors = (stream: CliStream) => {
      const useColor = Boolean(stream.isTTY) && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb';
      return new chalk.Instance({ level: useColor ? 1 : 0 });
    };
    this.color = colors(io.stdout);
    this.errColor = colors(io.stderr);
  }

  scrub(text: string): string {
    return scrubPasswords(text, this.urls());
  }

  out(line: string): void {
    this.io.stdout.write(`${line}\n`);
  }

  /** A line on stderr, below a progress bar shown (an error, or the line of an interrupted run, comes after one). */
  err(line: string): void {
    this.#endBar();
    this.io.stderr.write(`${this.scrub(line)}\n`);
  }

  #endBar(): void {
    if (this.#barShown) this.io.stderr.write('\n');
    this.#barShown = false;
  }

  /** Progress goes to stderr, so stdout stays clean for what scripts read. */
  logger(): Logger {
    const { stderr } = this.io;
    const tty = Boolean(stderr.isTTY);
    let lastLine = 0;
    const color = this.errColor;
    const step = (m: string) => this.err(`  ${color.dim('·')} ${m}`);
    return {
      info: (m) => this.err(color.bold(m)),
      step,
      warn: (m) => this.err(`  ${color.yellow('!')} ${m}`),
      done: (m, seconds) => step(`${m} in ${duration(seconds)}`),
      progress: (p) => {
        if (tty) {
          const bar = p.total ? progressBar(Math.min(1, p.rows / p.total)) : '';
          stderr.write(`\r\x1b[2K  ${bar} ${this.scrub(describeProgress(p))}`);
          this.#barShown = true;
          if (p.finished) this.#endBar();
        } else if (p.finished || Date.now() - lastLine >= 5000) {
          lastLine = Date.now();
          this.err(`  · ${describeProgress(p)}`);
        }
      },
    };
  }
}

function describeProgress(p: BackfillProgress): string {
  const rows = p.total ? `${digits(p.rows)} / ~${digits(p.total)} rows` : `${digits(p.rows)} rows`;
  if (p.finished) return `backfill ${p.table}: ${rows}, done in ${duration(p.seconds)}`;
  const eta = p.etaSeconds !== undefined ? `, ETA ${Math.ceil(p.etaSeconds)} s` : '';
  return `backfill ${p.table}: ${rows}, ${digits(p.rate)} rows/s${eta}`;
}

/**
 * A count with its thousands grouped, 1,234,567. Not toLocaleString: its
 * first call loads ICU's number data, some 20 ms, and the first progress line
 * comes while the backfill's first batches run.
 */
export function digits(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Seconds as an operator reads them: 0.04 s, 3.5 s, 2 min 5 s, 3 h 12 min. */
export function duration(seconds: number): string {
  if (seconds < 9.995) return `${seconds.toFixed(2)} s`;
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  const minutes = Math.round(whole / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function progressBar(fraction: number, width = 24): string {
  const full = Math.round(fraction * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}
