import type { Knex } from 'knex';
import { bound, literalMarks, type Bound } from '../bound-sql';
import type { MirrorSpec, RebuildChecks, TableRebuild } from '../dialect';
import type { BackfillSpec } from '../../engine/dual-write';
import { step, type Step } from '../../engine/step';

/** What the rebuild needs of the dialect: quoting, the base database and a way to read rows. */
export interface RebuildHost {
  readonly baseSchema: string;
  quote(identifier: string): string;
  qualify(schema: string, name: string): string;
  rows(sql: string, bindings: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** A statement that changes the catalog alone, its whole run bounded by the lock timeout where the server can (Dialect.boundInstant). */
  bounded(statement: string): string;
  /** MariaDB, not MySQL 8 (read once connected). */
  mariadb(): boolean;
}

const MIRROR_SUFFIXES = ['_ai', '_au', '_ad'] as const;

/**
 * The expanded table built beside the old one, the way pt-online-schema-change
 * and gh-ost do it on MySQL/MariaDB: copying rows in key order into a new
 * table is several times faster on InnoDB than updating them in place.
 *
 * 1. `CREATE TABLE shadow LIKE table` (the table already has its new columns),
 *    and a log table with only the key columns.
 * 2. Triggers on the table repeat every insert, update and delete on the
 *    shadow, old columns only, and log the key each insert or update leaves
 *    in the shadow.
 * 3. Chunks of old rows are copied with the new columns computed, each chunk
 *    a short transaction holding shared locks on the rows it reads; a row the
 *    mirror wrote first is newer and is kept (ON DUPLICATE KEY leaves it).
 *    The shadow has no trigger yet: one would double the cost of the copy.
 * 4. The migration's dual-write trigger goes on the shadow under its final
 *    name, and fills the new columns of every row mirrored from then on; a
 *    catch-up fills the rows mirrored before, found by the keys in the log
 *    (only the rows the apps wrote, not the whole shadow).
 * 5. `RENAME TABLE table TO retired, shadow TO table` swaps both at once: the
 *    dual-write trigger moves with the shadow, the mirror triggers with the
 *    retired table, which is dropped with the log. Views find the new table
 *    by its name.
 *
 * Only for tables nothing else is attached to: foreign keys (which follow a
 * renamed table) and triggers (which would stay on the retired one) stop it.
 */
export class MysqlTableRebuild implements TableRebuild {
  constructor(private readonly host: RebuildHost) {}

  async blockers(table: string): Promise<string[]> {
    const { baseSchema: schema } = this.host;
    const reasons: string[] = [];
    const [info] = await this.host.rows(
      'SELECT ENGINE AS engine, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [schema, table],
    );
    if (info && String(info.engine).toLowerCase() !== 'innodb') reasons.push(`it uses the ${String(info.engine)} engine, not InnoDB`);
    if (info && String(info.type) === 'SYSTEM VERSIONED') reasons.push('it is system-versioned (a copy would lose its history)');
    const triggers = await this.host.rows(
      'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?',
      [schema, table],
    );
    if (triggers.length > 0) reasons.push(`it has triggers (${triggers.map((t) => String(t.name)).join(', ')})`);
    // Its own keys, and those of any schema's tables that point at it: a key follows the table renamed out of the
    // way, so a child's inserts would then check the retired table, and the retired table could not be dropped.
    const keys = await this.host.rows(
      `SELECT CONSTRAINT_SCHEMA AS owner, CONSTRAINT_NAME AS name FROM information_schema.REFERENTIAL_CONSTRAINTS
        WHERE (CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?) OR (UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?)`,
      [schema, table, schema, table],
    );
    const named = new Set(keys.map((k) => (String(k.owner) === schema ? String(k.name) : `${String(k.owner)}.${String(k.name)}`)));
    for (const key of await this.innodbForeignKeys(table)) named.add(key);
    if (named.size > 0) reasons.push(`foreign keys use it (${[...named].join(', ')})`);
    return reasons;
  }

  /**
   * The foreign keys InnoDB knows of that the table has or that point at it,
   * from any database: information_schema shows the migration user only
   * those of tables it has a privilege on, and a key of a database it may
   * not see would follow the swapped table all the same. InnoDB's own list
   * needs PROCESS; without it, or where the names are not stored as written
   * (InnoDB keeps `database/table` in the server's file-name encoding, which
   * leaves only letters, digits and underscores as they are), none are added.
   */
  private async innodbForeignKeys(table: string): Promise<string[]> {
    const { baseSchema: schema } = this.host;
    const plain = /^[A-Za-z0-9_]+$/;
    if (!plain.test(schema) || !plain.test(table)) return [];
    const name = `${schema}/${table}`;
    // MariaDB's table, then MySQL 8's.
    for (const list of ['INNODB_SYS_FOREIGN', 'INNODB_FOREIGN']) {
      try {
        const rows = await this.host.rows(`SELECT ID AS id FROM information_schema.${list} WHERE FOR_NAME = ? OR REF_NAME = ?`, [
          name,
          name,
        ]);
        return rows.map((r) => {
          const [owner, key] = String(r.id).split('/');
          return owner === schema ? key : `${owner}.${key}`;
        });
      } catch {
        // not this server's table, or no PROCESS privilege
      }
    }
    return [];
  }

  createShadow(table: string, shadow: string): Step {
    return step(`create ${shadow} like ${table}`, `CREATE TABLE ${this.table(shadow)} LIKE ${this.table(table)}`, {
      guard: { kind: 'tableExists', table: shadow },
      locks: false,
    });
  }

  /**
   * Where the mirror logs the keys it writes, for the catch-up: the key
   * columns alone, keyed by them, typed and collated as in the shadow (made
   * from it, so the app's table is not touched) but without AUTO_INCREMENT.
   */
  createKeyLog(shadow: string, log: string, key: string[]): Step {
    const columns = key.map((k) => this.host.quote(k)).join(', ');
    return step(
      `create ${log} for the keys written into ${shadow}`,
      `CREATE TABLE ${this.table(log)} (PRIMARY KEY (${columns})) ENGINE = InnoDB SELECT ${columns} FROM ${this.table(shadow)} WHERE FALSE`,
      { guard: { kind: 'tableExists', table: log }, locks: false },
    );
  }

  mirrorTriggers(table: string, shadow: string, name: string, spec: MirrorSpec): Step {
    const q = (c: string) => this.host.quote(c);
    const target = this.table(shadow);
    // The new columns are left out: the shadow's dual-write trigger fills them, or the catch-up after the copy.
    const replace = `REPLACE INTO ${target} (${spec.columns.map(q).join(', ')}) VALUES (${spec.columns.map((c) => `NEW.${q(c)}`).join(', ')})`;
    const sameKey = spec.key.map((k) => `${target}.${q(k)} = OLD.${q(k)}`).join(' AND ');
    const keyChanged = spec.key.map((k) => `NOT (OLD.${q(k)} <=> NEW.${q(k)})`).join(' OR ');
    // Last, the key the row now has in the shadow, for the catch-up to find it by; a delete leaves nothing to fill.
    const logKey = `INSERT IGNORE INTO ${this.table(spec.log)} (${spec.key.map(q).join(', ')}) VALUES (${spec.key.map((k) => `NEW.${q(k)}`).join(', ')})`;
    const trigger = (suffix: string, event: string, body: string) =>
      `CREATE TRIGGER IF NOT EXISTS ${this.host.qualify(this.host.baseSchema, name + suffix)} AFTER ${event} ON ${this.table(table)} FOR EACH ROW\n${body}`;
    return step(
      `mirror writes on ${table} into ${shadow}`,
      // Delete, update, then insert: with any first part of that list in place (a run killed between the
      // statements, or the moments between them), every row the shadow holds is still kept current, since
      // a row reaches it only through an update, which is mirrored from then on, as deletes already are.
      // Insert first would let an inserted row reach the shadow and then miss its updates and delete,
      // and the copy keeps rows it finds there.
      [
        trigger('_ad', 'DELETE', `DELETE FROM ${target} WHERE ${sameKey}`),
        // The new row first: its REPLACE may wait for a copy's AUTO-INC lock, which must not find this write holding a gap lock.
        trigger(
          '_au',
          'UPDATE',
          `BEGIN\n  ${replace};\n  IF ${keyChanged} THEN DELETE FROM ${target} WHERE ${sameKey}; END IF;\n  ${logKey};\nEND`,
        ),
        trigger('_ai', 'INSERT', `BEGIN\n  ${replace};\n  ${logKey};\nEND`),
      ].join(';\n'),
      { instant: true },
    );
  }

  /**
   * With AUTO_INCREMENT (unless `innodb_autoinc_lock_mode` is 2), an
   * INSERT … SELECT holds the table's AUTO-INC lock to its end, which the
   * mirror's REPLACE needs too: were the copy to wait there for a row an app
   * holds, whose trigger waits for that lock, the two would deadlock. So its
   * rows are locked first, by a statement that holds no AUTO-INC lock.
   */
  async lockBeforeCopy(table: string): Promise<boolean> {
    const [row] = await this.host.rows(
      `SELECT @@innodb_autoinc_lock_mode AS mode,
              (SELECT COUNT(*) FROM information_schema.COLUMNS
                WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA LIKE '%auto_increment%') AS counters`,
      [this.host.baseSchema, table],
    );
    return Number(row?.counters) > 0 && Number(row?.mode) !== 2;
  }

  /**
   * One chunk: its rows locked (shared) as they are read, then copied, old
   * columns as they are and new ones computed; a row already in the shadow
   * came from the mirror, after the chunk's rows were read, so it is kept.
   * The locks keep a row an app deletes meanwhile from being copied after
   * the mirror's delete. Locked by a statement of their own first when
   * `lockFirst` (see lockBeforeCopy).
   */
  copyChunk(spec: BackfillSpec, range: Bound): Bound[] {
    const copy = spec.copy!;
    if (spec.key === 'ctid') throw new Error(`a copy walks a key, not ${spec.key}`);
    const q = (c: string) => this.host.quote(c);
    const computed = Object.keys(spec.set);
    const key = spec.key.map(q);
    const source = this.table(spec.table);
    const target = this.table(copy.into);
    const lockFirst = copy.lockFirst !== false;
    const insert = bound`INSERT INTO ${target} (${[...copy.columns, ...computed].map(q).join(', ')})
SELECT ${[...copy.columns.map(q), ...computed.map((c) => `(${spec.set[c]})`)].join(', ')}
  FROM ${source} WHERE ${range}${lockFirst ? '' : ' LOCK IN SHARE MODE'}
ON DUPLICATE KEY UPDATE ${key.map((k) => `${target}.${k} = ${target}.${k}`).join(', ')}`;
    return lockFirst ? [bound`SELECT COUNT(*) FROM ${source} WHERE ${range} LOCK IN SHARE MODE`, insert] : [insert];
  }

  /**
   * One batch of the catch-up: the shadow's rows whose keys are in a range of
   * the log, filled where they still need it. The range is over the log's
   * columns, inside the derived table; the assignments and `where` name the
   * shadow's columns unqualified, so the derived table's columns are named
   * `_zmkey<n>`: no column of the shadow is (helpers are `_zm_<column>`).
   */
  catchUpChunk(spec: BackfillSpec, range: Bound, assignments: string[]): Bound[] {
    if (!spec.catchUp || spec.key === 'ctid') throw new Error(`a catch-up walks the keys logged for ${spec.table}`);
    const q = (c: string) => this.host.quote(c);
    const target = this.table(spec.table);
    const keys = q('_zm_keys');
    const alias = (i: number) => q(`_zmkey${i}`);
    return [
      bound`UPDATE ${target} JOIN (SELECT ${spec.key.map((k, i) => `${q(k)} AS ${alias(i)}`).join(', ')} FROM ${this.table(spec.catchUp.log)} WHERE ${range}) AS ${keys}
    ON ${spec.key.map((k, i) => `${target}.${q(k)} = ${keys}.${alias(i)}`).join(' AND ')}
   SET ${assignments.join(', ')} WHERE (${spec.where})`,
    ];
  }

  /**
   * The shadow's AUTO_INCREMENT starts where the table's is, so no key is
   * handed out twice across the swap (the table's may be past its highest
   * key, which is all the copy carries over). Nothing to do where the mirror
   * already took it there, copying the apps' inserts: the change is an ALTER
   * TABLE, which waits for the shadow's metadata lock, held by every app
   * transaction that wrote the table since the mirror began, while the
   * mirror's next writes queue behind it; so it is bounded as the catalog
   * changes are.
   */
  async afterCopy(knex: Knex, spec: BackfillSpec): Promise<void> {
    const shadow = spec.copy!.into;
    const counters = await this.host.rows(
      'SELECT TABLE_NAME AS name, AUTO_INCREMENT AS next FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?)',
      [this.host.baseSchema, spec.table, shadow],
    );
    const counter = (name: string) => Number(counters.find((c) => String(c.name) === name)?.next);
    const next = counter(spec.table);
    if (!Number.isSafeInteger(next) || next <= 1 || counter(shadow) >= next) return;
    await knex.raw(literalMarks(this.host.bounded(`ALTER TABLE ${this.table(shadow)} AUTO_INCREMENT = ${next}`)));
  }

  swap(table: string, shadow: string, retired: string): Step {
    return step(
      `swap ${shadow} in for ${table}`,
      `RENAME TABLE ${this.table(table)} TO ${this.table(retired)}, ${this.table(shadow)} TO ${this.table(table)}`,
      { guard: { kind: 'tableMissing', table: shadow }, instant: true },
    );
  }

  dropRetired(retired: string, log: string): Step {
    return step(`drop ${retired} and ${log}`, `DROP TABLE IF EXISTS ${this.table(retired)}, ${this.table(log)}`, { locks: false });
  }

  async leftovers(prefix: string): Promise<Step[]> {
    const rows = await this.host.rows(
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND LEFT(TABLE_NAME, ?) = ? AND TABLE_TYPE = 'BASE TABLE'",
      [this.host.baseSchema, prefix.length, prefix],
    );
    return rows.map((r) => step(`drop ${String(r.name)}`, `DROP TABLE IF EXISTS ${this.table(String(r.name))}`, { locks: false }));
  }

  /**
   * MariaDB: a CHECK is added to the shadow while it is empty (to a table with
   * rows only by ALGORITHM=COPY under LOCK=SHARED), and dropped instantly
   * (ALGORITHM=INSTANT, a change of the catalog alone, bounded as the other
   * catalog changes are). MySQL 8 names checks per database and copies them
   * under new names with CREATE TABLE … LIKE, which the swap would then keep:
   * not there.
   */
  get checks(): RebuildChecks | undefined {
    if (!this.host.mariadb()) return undefined;
    return {
      add: (shadow, name, expression) =>
        step(
          `add check ${name} to ${shadow} (empty)`,
          `ALTER TABLE ${this.table(shadow)} ADD CONSTRAINT ${this.host.quote(name)} CHECK (${expression})`,
          { guard: { kind: 'constraintExists', table: shadow, constraint: name }, locks: false },
        ),
      drop: (table, name) =>
        step(
          `drop check ${name}`,
          `ALTER TABLE ${this.table(table)} DROP CONSTRAINT IF EXISTS ${this.host.quote(name)}, ALGORITHM=INSTANT`,
          { guard: { kind: 'constraintMissing', table, constraint: name }, instant: true },
        ),
    };
  }

  /** Trigger name suffixes of the mirror, for listing and dropping a migration's triggers. */
  static readonly suffixes = MIRROR_SUFFIXES;

  private table(name: string): string {
    return this.host.qualify(this.host.baseSchema, name);
  }
}
