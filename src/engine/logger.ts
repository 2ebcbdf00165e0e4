/** Where the engine reports progress. The CLI prints it; the API is silent by default. */
export interface BackfillProgress {
  table: string;
  rows: number;
  /** The server's estimate of the table's rows, when it has one. */
  total?: number;
  /** Rows per second in this run. */
  rate: number;
  etaSeconds?: number;
  /** Seconds since this run of the backfill started. */
  seconds: number;
  finished: boolean;
}

export interface Logger {
  info(message: string): void;
  step(message: string): void;
  warn(message: string): void;
  progress?(event: BackfillProgress): void;
  /** How a long step ended, and after how many seconds, where nothing else says so (a verification that found every row right). */
  done?(message: string, seconds: number): void;
}

export const silentLogger: Logger = { info() {}, step() {}, warn() {} };
