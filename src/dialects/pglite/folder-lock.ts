import { closeSync, openSync, readFileSync, readlinkSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Lock files this process holds. Runners side by side in one process (the
 * API, tests) find their own PID in each other's lock: that one is held.
 */
const HELD = new Set<string>();

/** Who wrote a lock file: a PID, when that process started, and where it runs, where the system says. */
interface Holder {
  pid: number;
  started: string | undefined;
  where: string | undefined;
}

/**
 * A PGlite data folder may be opened by one process at a time. This lock file
 * says which process has it (its PID and start time); one left by a process
 * that is gone is taken over. A PID alone is not enough: after a crash the
 * same number comes back, as this process's own (node as PID 1 in a
 * container, restarted after Ctrl-C) or another process's.
 */
export class FolderLock {
  readonly #file: string;
  #held = false;

  constructor(dataDir: string) {
    this.#file = path.resolve(dataDir, 'zmigrate.lock');
  }

  async acquire(waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.tryCreate()) return true;
      const holder = this.holder();
      if (holder !== undefined && this.left(holder)) {
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
    HELD.delete(this.#file);
    try {
      unlinkSync(this.#file);
    } catch {
      // already gone
    }
  }

  holderPid(): number | undefined {
    return this.holder()?.pid;
  }

  private holder(): Holder | undefined {
    try {
      const [pid, started, where] = readFileSync(this.#file, 'utf8').trim().split('\n');
      const number = Number(pid);
      return Number.isInteger(number) && number > 0 ? { pid: number, started: started || undefined, where: where || undefined } : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The lock was left by a process that is gone: not this one (unless it
   * holds it), not a live one started then. A PID says nothing of a process
   * on another host or in another PID namespace (two containers sharing the
   * folder, each with node as PID 1): that one counts as alive.
   */
  private left(holder: Holder): boolean {
    if (holder.where !== undefined && holder.where !== here()) return false;
    if (holder.pid === process.pid) return !HELD.has(this.#file);
    if (!alive(holder.pid)) return true;
    const started = startOf(holder.pid);
    return holder.started !== undefined && started !== undefined && started !== holder.started;
  }

  private tryCreate(): boolean {
    try {
      const fd = openSync(this.#file, 'wx');
      const started = startOf(process.pid);
      writeSync(fd, `${process.pid}\n${started ?? ''}\n${here()}`);
      closeSync(fd);
      this.#held = true;
      HELD.add(this.#file);
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

/**
 * When a process started, as Linux tells it: the boot's id and the start time
 * in clock ticks since boot (field 22 of /proc/<pid>/stat, counted after the
 * command name, which may hold spaces and parentheses). Undefined elsewhere:
 * there the PID alone says who holds the lock.
 */
export function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    if (!ticks || !/^\d+$/.test(ticks)) return undefined;
    let boot = '';
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      // no boot id: the start time alone
    }
    return `${boot}:${ticks}`;
  } catch {
    return undefined;
  }
}

/** Where this process runs: its host name and, on Linux, its PID namespace; PIDs compare only within one. */
function here(): string {
  let namespace = '';
  try {
    namespace = readlinkSync('/proc/self/ns/pid');
  } catch {
    // not Linux: the host name alone
  }
  return `${os.hostname()} ${namespace}`.trim();
}
