import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A PGlite data folder may be opened by one process at a time. This lock file
 * says which process has it; one left by a process that died is taken over.
 */
export class FolderLock {
  readonly #file: string;
  #held = false;

  constructor(dataDir: string) {
    this.#file = path.join(dataDir, 'zmigrate.lock');
  }

  async acquire(waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.tryCreate()) return true;
      const holder = this.holderPid();
      if (holder !== undefined && !alive(holder)) {
        unlinkSync(this.#file);
        continue;
      }
      if (Date.now() >= deadline) return false;
      await sleep(100);
    }
  }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      unlinkSync(this.#file);
    } catch {
      // already gone
    }
  }

  holderPid(): number | undefined {
    try {
      const pid = Number(readFileSync(this.#file, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  private tryCreate(): boolean {
    try {
      const fd = openSync(this.#file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      this.#held = true;
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
