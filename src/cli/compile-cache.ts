/**
 * A V8 code cache for the CLI's modules, so a run does not compile knex, the
 * drivers and yargs from source again: about a fifth of a short command's CPU
 * (CI pipelines and deploy scripts start zmigrate often).
 *
 * Node 22 has this built in (`module.enableCompileCache()`), which is used
 * where present. On Node 20 each CommonJS module is compiled as a `vm.Script`
 * with the cached data of the last run, and at exit the cache is written
 * anew if any module lacked it: after the run, so it also holds the functions
 * compiled lazily while the command ran. V8 checks an entry only against
 * its source's length (and its own version and flags), so entries are kept
 * by the module's file name, size and time of change: a rebuilt or edited
 * file misses its entry; the cache file is this copy's, and changes with
 * its package.json (an upgrade). (npm gives installed files one fixed time:
 * a dependency upgraded in place under the same zmigrate, whose file keeps
 * its size to the byte, would still find the old entry.)
 *
 * Only zmigrate's own modules and those of the packages it loads are cached,
 * not a user's migration files, which change from run to run. The cache, one
 * file per installed copy of zmigrate and Node version, lives in
 * `NODE_COMPILE_CACHE` (as on Node 22) or this user's cache folder
 * (src/cache-folder.ts); `NODE_DISABLE_COMPILE_CACHE=1` turns it off. A
 * folder or file that is not this user's alone (another user's, writable by
 * others, a symlink) is not used: its code would run as this user. Any
 * failure to read or write the cache is ignored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { isPrivate, privateCacheFolder, privateFolder } from '../cache-folder';

interface CompilingModule {
  exports: unknown;
  require(id: string): unknown;
}

interface ModuleInternals {
  wrap(source: string): string;
  _resolveFilename(request: string, parent: unknown, isMain: boolean, options?: unknown): string;
  _resolveLookupPaths(request: string, parent: unknown): string[] | null;
  _extensions: unknown;
  _cache: unknown;
  prototype: { _compile(this: CompilingModule, content: string, filename: string): unknown };
}

/** This package's folder, and where the packages it loads are installed. */
const OWN = path.resolve(__dirname, '..', '..') + path.sep;
const PACKAGES = `${path.sep}node_modules${path.sep}`;

export function enableCompileCache(): void {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return;
  const native = (Module as unknown as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
  const given = process.env.NODE_COMPILE_CACHE;
  const folder = given ? (privateFolder(given) ? given : undefined) : privateCacheFolder('compile-cache');
  if (!folder) return;
  if (native) {
    native(folder);
    return;
  }
  const file = path.join(folder, `${installation()}-${process.version}-${process.arch}-${process.getuid?.() ?? 'user'}.bin`);
  const cached = readCache(file);
  const compiled: Array<{ key: string; script: vm.Script }> = [];
  let missing = false;

  const internals = Module as unknown as ModuleInternals;
  const original = internals.prototype._compile;
  internals.prototype._compile = function (this: CompilingModule, content: string, filename: string) {
    // Only zmigrate and the packages it loads: a user's migration files change from run to run.
    // A vm.Script has no loader for import() but an experimental one that warns: such modules compile as usual.
    if (!(filename.startsWith(OWN) || filename.includes(PACKAGES)) || content.includes('import('))
      return original.call(this, content, filename);
    // By name, size and time of change: V8 checks a code cache only against its source's length, and would run a
    // rebuilt file of the same length with the old file's code (a SyntaxError where a function is first called).
    const key = cacheKey(filename);
    let script: vm.Script;
    try {
      script = new vm.Script(internals.wrap(content.replace(/^#!.*/, '')), {
        filename,
        cachedData: cached.get(key),
      });
    } catch {
      return original.call(this, content, filename);
    }
    if (!cached.has(key) || script.cachedDataRejected) missing = true;
    compiled.push({ key, script });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    const requireFn = Object.assign((id: string) => this.require(id), {
      resolve: Object.assign((request: string, options?: unknown) => internals._resolveFilename(request, this, false, options), {
        paths: (request: string) => internals._resolveLookupPaths(request, this),
      }),
      main: require.main,
      extensions: internals._extensions,
      cache: internals._cache,
    });
    return wrapper.call(this.exports, this.exports, requireFn, this, filename, path.dirname(filename));
  };

  process.once('exit', () => {
    if (missing) writeCache(file, compiled, cached);
  });
}

/** The cache file: a count, then for each module its file name and cached data, each behind its length. */
function readCache(file: string): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  try {
    const data = readPrivateFile(file);
    let at = 0;
    const chunk = () => {
      const length = data.readUInt32LE(at);
      const bytes = data.subarray(at + 4, at + 4 + length);
      if (bytes.length !== length) throw new Error('truncated');
      at += 4 + length;
      return bytes;
    };
    const count = data.readUInt32LE(0);
    at = 4;
    for (let i = 0; i < count; i++) entries.set(chunk().toString('utf8'), chunk());
  } catch {
    // No cache yet, or a broken one: every module compiles from source, and the cache is written anew.
  }
  return entries;
}

/** The file's bytes, if it is this user's alone; never through a symlink (a planted one would fail here, ELOOP). */
function readPrivateFile(file: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || !isPrivate(stat)) throw new Error("not this user's alone");
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** This copy of zmigrate: its folder and its package.json (an upgrade in place changes the version there). */
function installation(): string {
  const hash = createHash('sha256').update(OWN);
  try {
    hash.update(readFileSync(path.join(OWN, 'package.json')));
  } catch {
    // none: the folder alone
  }
  return hash.digest('hex').slice(0, 12);
}

/** A module's entry: its file name, then its size and time of change (a stat, where hashing every module's source would cost a fifth of a short command). */
function cacheKey(filename: string): string {
  try {
    const { size, mtimeMs } = statSync(filename);
    return `${filename}\u0000${size}:${mtimeMs}`;
  } catch {
    return `${filename}\u0000`;
  }
}

/** This run's modules, and those of earlier runs that this one did not load (another command's), but not their older contents. */
function writeCache(file: string, compiled: Array<{ key: string; script: vm.Script }>, earlier: Map<string, Buffer>): void {
  try {
    const loaded = new Set(compiled.map(({ key }) => key.slice(0, key.indexOf('\u0000'))));
    const entries = new Map([...earlier].filter(([key]) => !loaded.has(key.slice(0, key.indexOf('\u0000')))));
    for (const { key, script } of compiled) entries.set(key, script.createCachedData());
    const parts: Buffer[] = [u32(entries.size)];
    for (const [key, data] of entries) {
      const name = Buffer.from(key, 'utf8');
      parts.push(u32(name.length), name, u32(data.length), data);
    }
    // Written aside and renamed, so runs side by side never read a half-written file. The new file only, never
    // one already there or a symlink's target; the rename replaces a symlink at `file` itself.
    const partial = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
    const fd = openSync(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
    try {
      writeFileSync(fd, Buffer.concat(parts));
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(partial, file);
    } catch (error) {
      rmSync(partial, { force: true });
      throw error;
    }
  } catch {
    // A read-only or full disk: the next run compiles from source again.
  }
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}
