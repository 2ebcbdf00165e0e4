import { constants } from 'node:os';

/** The signals a deploy system or a terminal sends to stop a run. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * How SIGINT and SIGTERM reach a CLI run. Until a command that changes the
 * database starts (graceful()), they end the process as they always do; from
 * then on the first asks the work to stop where it resumes from (`signal`
 * aborts, with the signal's name as its reason), and a second ends the
 * process at once, as the first would have (one within ECHO_MS of the
 * first, of the same kind, is taken for that first one passed on again).
 */
export interface Interrupts {
  readonly signal: AbortSignal;
  /** `notice` is called at each signal, `again` true for the second, just before the process exits. */
  graceful(notice: (signal: StopSignal, again: boolean) => void): void;
}

/** The exit code a shell reports for a process `signal` ended: 130 for SIGINT, 143 for SIGTERM. */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/**
 * A repeat of the first signal this soon after it is the same Ctrl-C, not a
 * second one: the terminal sends SIGINT to the whole process group, and npm
 * and npx pass it on to their child again.
 */
const ECHO_MS = 1000;

/** The process's own signals (bin/zmigrate.js); dispose() lets them go again. */
export function processInterrupts(): Interrupts & { dispose(): void } {
  const controller = new AbortController();
  const listeners: Array<[StopSignal, () => void]> = [];
  let first: { name: StopSignal; at: number } | undefined;
  return {
    signal: controller.signal,
    graceful(notice) {
      if (listeners.length > 0) return;
      for (const name of STOP_SIGNALS) {
        const listener = () => {
          if (first && first.name === name && Date.now() - first.at < ECHO_MS) return;
          const again = controller.signal.aborted;
          notice(name, again);
          if (again) process.exit(signalExitCode(name));
          first = { name, at: Date.now() };
          controller.abort(name);
        };
        process.on(name, listener);
        listeners.push([name, listener]);
      }
    },
    dispose() {
      for (const [name, listener] of listeners.splice(0)) process.off(name, listener);
    },
  };
}
