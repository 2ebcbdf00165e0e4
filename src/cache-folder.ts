/**
 * Where zmigrate keeps compiled code between runs: V8's code cache of its
 * modules and jiti's transpiled migration files. Code read from a cache runs
 * as whoever reads it, so a cache folder must be this user's alone. A fixed
 * name in the shared temporary folder was not: another local user could
 * create it first, writable by all, and put code there for the next user of
 * zmigrate to run. Only Node's built-in modules here: the compile cache loads
 * this before anything else.
 */
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * `<base>/<name>` under the first of `$XDG_CACHE_HOME/zmigrate`,
 * `~/.cache/zmigrate` and the temporary folder's `zmigrate-<uid>` that can be
 * made and is private; undefined when none is (then there is no cache).
 */
export function privateCacheFolder(name: string): string | undefined {
  for (const base of cacheBases()) {
    const folder = path.join(base, name);
    if (privateFolder(base) && privateFolder(folder)) return folder;
  }
  return undefined;
}

function cacheBases(): string[] {
  const bases: string[] = [];
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) bases.push(path.join(xdg, 'zmigrate'));
  try {
    const home = os.homedir();
    if (home && home !== path.parse(home).root) bases.push(path.join(home, '.cache', 'zmigrate'));
  } catch {
    // No home folder (a user without a passwd entry): the temporary folder.
  }
  bases.push(path.join(os.tmpdir(), `zmigrate-${process.getuid?.() ?? os.userInfo().username}`));
  return bases;
}

/** `folder` (made 0700 if missing) is a folder of this user's that nobody else may write to, and no symlink. */
export function privateFolder(folder: string): boolean {
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const stat = lstatSync(folder);
    return stat.isDirectory() && isPrivate(stat);
  } catch {
    return false;
  }
}

/**
 * Owned by this user and writable by nobody else; never a symlink (lstat).
 * Windows has no uids or mode bits to check: there a user's temporary folder
 * is their own.
 */
export function isPrivate(stat: Stats): boolean {
  if (stat.isSymbolicLink()) return false;
  const uid = process.getuid?.();
  if (uid === undefined) return true;
  return stat.uid === uid && (stat.mode & 0o022) === 0;
}
