import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createJiti } from 'jiti';
import { privateCacheFolder } from '../cache-folder';
import { ConfigError, MigrationFileError } from '../errors';
import { isMigration, isOperation, optionProblem } from './define';
import type { BackfillJob, Migration } from './types';
import { unknownOption } from './options';

export interface LoadedMigration {
  /** The file name without extension, e.g. `0002_rename_customer`. */
  readonly name: string;
  readonly file: string;
  /**
   * sha256 of the file's text with its line ends as `\n`: an applied file
   * that changes afterwards is refused, one checked out with CRLF elsewhere
   * (git's autocrlf) is not.
   */
  readonly checksum: string;
  /**
   * What zmigrate recorded before it read line ends as one, of the bytes:
   * the file's as they are, and as a CRLF checkout (Windows) had them.
   */
  readonly byteChecksums: readonly string[];
  readonly migration: Migration;
  /**
   * Options the file gives that its builders do not take (a typo, another
   * tool's habit): the runner refuses to expand it, but a migration already
   * applied with one (an older zmigrate ignored it) can still be contracted
   * or rolled back.
   */
  readonly problems?: readonly string[];
}

/** Whether a checksum zmigrate recorded is of this file as it is now. */
export function sameFile(file: LoadedMigration, recorded: string | null | undefined): boolean {
  return recorded === file.checksum || file.byteChecksums.some((c) => c === recorded);
}

const EXTENSIONS = ['.ts', '.js', '.mts', '.cts', '.mjs', '.cjs'];
export const MIGRATION_NAME = /^[a-z0-9_]+$/;

/** Lists, names and checksums the migration files of a folder, in file-name order, without running them. */
export async function listMigrationFiles(dir: string): Promise<Array<{ name: string; file: string }>> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`migrations folder ${dir} does not exist`, { hint: 'create it, or point --dir at it' });
    if (code === 'ENOTDIR') throw new ConfigError(`${dir} is not a folder`);
    throw new ConfigError(`cannot read migrations folder ${dir}: ${(error as Error).message}`);
  }
  const files = entries.filter((f) => EXTENSIONS.includes(path.extname(f)) && !f.endsWith('.d.ts') && !f.startsWith('.')).sort();
  const seen = new Map<string, string>();
  const result: Array<{ name: string; file: string }> = [];
  for (const f of files) {
    const name = path.basename(f, path.extname(f));
    const other = seen.get(name);
    if (other) {
      throw new MigrationFileError(path.join(dir, f), `a second file for migration ${name} (the other is ${other})`, {
        hint: 'keep one file per migration name',
      });
    }
    seen.set(name, f);
    if (!MIGRATION_NAME.test(name)) {
      throw new MigrationFileError(path.join(dir, f), `migration name ${JSON.stringify(name)} must match [a-z0-9_]+`, {
        hint: 'rename the file, e.g. 0003_add_priority.ts',
      });
    }
    result.push({ name, file: path.join(dir, f) });
  }
  return result;
}

/**
 * Turns a migration file into CommonJS: its types stripped, its imports
 * made requires (sucrase). jiti's own transform, Babel, takes some 200 ms to
 * load and run for a file it has not cached, which is every file of a fresh
 * checkout (its cache is by path): most of the start of a CI job's
 * `zmigrate expand`. sucrase does the same for a migration file in 15–40 ms.
 */
function stripTypes(options: { source: string; filename?: string; ts?: boolean }): { code: string } {
  // Loaded only on a cache miss.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { transform } = require('sucrase') as typeof import('sucrase');
  const transforms: Array<'typescript' | 'imports'> = options.ts ? ['typescript', 'imports'] : ['imports'];
  try {
    return { code: transform(options.source, { transforms, filePath: options.filename, production: true }).code };
  } catch (error) {
    // "Error transforming <file>: Unexpected token (2:48)": the file is named by the caller already.
    throw new SyntaxError(String((error as Error).message).replace(/^Error transforming .*?: /, ''));
  }
}

/** zmigrate's own entry point, as this process loaded it. */
function thisPackage(): unknown {
  // At call time: the entry point imports this module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../index') as unknown;
}

/** Loads every migration file of a folder. TypeScript needs no build step (jiti). */
export async function loadMigrations(dir: string): Promise<LoadedMigration[]> {
  const files = await listMigrationFiles(dir);
  const jiti = createJiti(__filename, {
    // Migration files import from 'zmigrate'; resolve it to this very copy,
    // so files work whether or not the project has zmigrate in node_modules:
    // the module already loaded. Through the alias alone, with jiti's module
    // cache off (for the files' sake), a copy running from its TypeScript
    // sources (the tests' in-process commands) had jiti transpile and run
    // the whole package again for every file: most of a command's CPU. The
    // alias serves any other path under 'zmigrate/'.
    virtualModules: { zmigrate: thisPackage() },
    alias: { zmigrate: path.resolve(__dirname, '..', 'index') },
    moduleCache: false,
    // Transpiled files are cached by path and content, in this user's cache folder (jiti's own default, the
    // shared temporary folder, would run whatever another local user put there), or not at all.
    fsCache: privateCacheFolder('jiti') ?? false,
    interopDefault: true,
    transform: stripTypes,
  });
  const loaded: LoadedMigration[] = [];
  for (const { name, file } of files) {
    const source = await fs.readFile(file);
    const lf = source.toString('latin1').replace(/\r\n/g, '\n');
    const checksum = sha256(Buffer.from(lf, 'latin1'));
    const byteChecksums = [sha256(source), sha256(Buffer.from(lf.replace(/\n/g, '\r\n'), 'latin1'))];
    let exported: unknown;
    try {
      const mod = (await jiti.import(path.resolve(file))) as { default?: unknown } | undefined;
      exported = mod && typeof mod === 'object' && 'default' in mod ? mod.default : mod;
      // Only named exports (export const migration = ...): the module itself is not a migration.
      if (exported === mod && mod && typeof mod === 'object' && !isMigration(mod) && !('operations' in mod)) exported = undefined;
    } catch (error) {
      throw new MigrationFileError(file, `cannot load: ${firstLine(error)}`, { cause: error });
    }
    const migration = toMigration(file, exported);
    const problems = [
      unknownOption(exported, MIGRATION_KEYS, { up: 'expand', down: 'rollback' }),
      ...[...migration.operations, migration.backfill].map(optionProblem),
    ].flatMap((p, i) => (p === undefined ? [] : [i === 0 ? `defineMigration: ${p}` : p]));
    loaded.push({ name, file, checksum, byteChecksums, migration, ...(problems.length > 0 ? { problems } : {}) });
  }
  return loaded;
}

const MIGRATION_KEYS = ['description', 'operations', 'expand', 'contract', 'rollback', 'backfill'];

function toMigration(file: string, exported: unknown): Migration {
  if (
    exported === undefined ||
    exported === null ||
    (typeof exported === 'object' && Object.keys(exported).length === 0 && !isMigration(exported))
  ) {
    throw new MigrationFileError(file, 'has no default export', {
      hint: 'end the file with: export default defineMigration({ operations: [...] })',
    });
  }
  if (typeof exported !== 'object') {
    throw new MigrationFileError(file, 'the default export must be defineMigration({ ... })');
  }
  const migration = exported as Migration;
  const operations: unknown = migration.operations ?? [];
  if (!Array.isArray(operations)) {
    throw new MigrationFileError(file, 'operations must be an array of op.*(...) calls');
  }
  operations.forEach((operation, i) => {
    if (!isOperation(operation)) {
      throw new MigrationFileError(file, `operations[${i}] is not an operation (use op.createTable(...), op.addColumn(...), …)`);
    }
  });
  for (const phase of ['expand', 'contract', 'rollback'] as const) {
    if (migration[phase] !== undefined && typeof migration[phase] !== 'function') {
      throw new MigrationFileError(file, `${phase} must be an async function ({ knex }) => { ... }`);
    }
  }
  const job = migration.backfill;
  if (job !== undefined && (typeof job !== 'object' || job === null || job.kind !== 'backfillJob' || typeof job.batch !== 'function')) {
    throw new MigrationFileError(file, "backfill must be op.backfill('table', { batch: async (rows, ctx) => { ... } })");
  }
  if (job !== undefined) {
    const wrong = backfillJobProblem(job);
    if (wrong) throw new MigrationFileError(file, `op.backfill(${JSON.stringify(job.table)}): ${wrong}`);
  }
  if (operations.length === 0 && !migration.expand && !migration.contract && !job) {
    throw new MigrationFileError(file, 'has no operations');
  }
  return { ...migration, operations: operations as Migration['operations'] };
}

/** What is wrong with a backfill job's options, if anything. */
function backfillJobProblem(job: BackfillJob): string | undefined {
  const { batchSize, columns, where, includeNewRows } = job as unknown as Record<string, unknown>;
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && (batchSize as number) >= 1))
    return 'batchSize must be a whole number ≥ 1';
  if (columns !== undefined && !(Array.isArray(columns) && columns.every((c) => typeof c === 'string' && c !== ''))) {
    return 'columns must be a list of column names';
  }
  if (where !== undefined && (typeof where !== 'string' || where.trim() === '')) return 'where must be an SQL condition (a string)';
  if (includeNewRows !== undefined && typeof includeNewRows !== 'boolean') return 'includeNewRows must be true or false';
  return undefined;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (
    message
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? 'unknown error'
  );
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
