/** Where the engine reports progress. The CLI prints it; the API is silent by default. */
export interface BackfillProgress {
  table: string;
  rows: number;
  /** The server's estimate of the table's rows, when it has one. */
  total?: number;
  /** Rows per second in this run. */
  rate: number;
  etaSeconds?: number;
  finished: boolean;
}

export interface Logger {
  info(message: string): void;
  step(message: string): void;
  warn(message: string): void;
  progress?(event: BackfillProgress): void;
}

export const silentLogger: Logger = { info() {}, step() {}, warn() {} };
