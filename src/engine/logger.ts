/** Where the engine reports progress. The CLI prints it; the API is silent by default. */
export interface Logger {
  info(message: string): void;
  step(message: string): void;
  warn(message: string): void;
}

export const silentLogger: Logger = { info() {}, step() {}, warn() {} };
