import type { ForeignKeyAction } from '../migration/types';

/**
 * The physical schema (what the tables really hold) and the version views
 * (how one application version sees them). Planning works on copies of these
 * models, so `plan` can show every phase of every pending migration without
 * touching the database.
 */

export interface ColumnModel {
  name: string;
  /** The SQL type as the engine spells it, e.g. `integer`, `varchar(100)`. */
  type: string;
  nullable: boolean;
  /** A SQL expression, or null when the column has no default. */
  default: string | null;
  /** MySQL/MariaDB INVISIBLE column. */
  invisible: boolean;
  /** Computed by the engine (GENERATED ALWAYS AS …): never written. */
  generated?: boolean;
  /** Its comment, if it has one: alterColumn carries it over to the column it builds. */
  comment?: string;
  /** MySQL/MariaDB: its `ON UPDATE` value (`current_timestamp(3)`), which the server sets on every update of the row. */
  onUpdate?: string;
  /** Numbered by the engine where a write leaves it out: a PostgreSQL identity column, a MySQL/MariaDB AUTO_INCREMENT one (`by default`). */
  identity?: 'always' | 'by default';
  /** PostgreSQL: the sequence the column owns (a serial column's, or its identity's), in its table's schema. */
  sequence?: string;
  /**
   * A collation of the column's own (one its type or table would not give it),
   * as the dialect writes it after the type: `COLLATE "pg_catalog"."C"`,
   * `` CHARACTER SET `latin1` COLLATE `latin1_bin` ``. alterColumn keeps it.
   */
  collation?: string;
  /**
   * PostgreSQL: privileges granted on the column itself (`GRANT SELECT
   * (amount) ON orders TO reports`), which go with it when it is dropped:
   * alterColumn grants them again on the new column in the swap. (MySQL and
   * MariaDB keep column privileges by name, so there they hold anyway.)
   */
  grants?: ColumnGrant[];
  /**
   * Views that read the column, other than zmigrate's own version schemas'
   * (the runner leaves those out): PostgreSQL refuses to drop a column a view
   * reads, and a MySQL/MariaDB view over a dropped column breaks.
   */
  views?: QualifiedName[];
  /**
   * Other objects that use it: triggers of its table that name it (on
   * PostgreSQL in their column list or WHEN, or in their function's body),
   * generated columns computed from it, row security policies; on
   * PostgreSQL also publications whose column list or row filter names it,
   * and functions with a SQL-standard body (BEGIN ATOMIC) that read it.
   * PostgreSQL refuses to drop the column while they stay; on MySQL/MariaDB
   * a trigger then fails, and a generated column stops the drop.
   */
  holders?: ColumnHolder[];
}

export interface ColumnGrant {
  /** A role's name; undefined for PUBLIC. */
  grantee?: string;
  privilege: 'SELECT' | 'INSERT' | 'UPDATE' | 'REFERENCES';
  /** WITH GRANT OPTION. */
  grantable: boolean;
}

export interface ColumnHolder {
  /** `trigger function`: a PostgreSQL trigger's function whose body names NEW.column or OLD.column (by text, not by dependency). */
  kind: 'trigger' | 'trigger function' | 'generated column' | 'policy' | 'publication' | 'function' | 'column';
  name: string;
}

/** A relation of some schema (PostgreSQL) or database (MySQL/MariaDB). */
export interface QualifiedName {
  schema: string;
  name: string;
}

/** When a deferrable constraint is checked by default (INITIALLY …). */
export type Deferrable = 'immediate' | 'deferred';

/** MySQL/MariaDB: how an index reads one of its columns, beside `columns`. */
export interface IndexPart {
  /** A prefix index's length, in characters (or bytes, for binary types). */
  length?: number;
  descending?: boolean;
}

export interface IndexModel {
  name: string;
  /** Its key columns, in order (not PostgreSQL's INCLUDE columns, which are in `uses`). */
  columns: string[];
  unique: boolean;
  /** A partial index or one over expressions: zmigrate cannot rebuild it on a new column by itself. */
  special?: boolean;
  /** Every column the index reads, INCLUDE columns and those in expressions and a predicate too (where the dialect reads them; else `columns`). */
  uses?: string[];
  /**
   * PostgreSQL: the index's definition after `USING`, as the server writes
   * it (`btree (lower((email)::text)) WHERE (deleted_at IS NULL)`), with its
   * tablespace where it has one of its own: alterColumn rewrites it to build
   * the index again on the new column, keeping all of it.
   */
  definition?: string;
  /** PostgreSQL: the index of a UNIQUE (or, where not `unique`, exclusion) constraint of the same name, dropped with the constraint. */
  constraint?: boolean;
  /** PostgreSQL: its constraint (or the primary key) is DEFERRABLE, INITIALLY as this says (alterColumn refuses its columns). */
  deferrable?: Deferrable;
  /** PostgreSQL: the table's replica identity (REPLICA IDENTITY USING INDEX), which alterColumn gives its rebuilt index. */
  replicaIdentity?: true;
  /** MySQL/MariaDB: FULLTEXT, SPATIAL or HASH (MariaDB's unique index over a long column), where it is not a B-tree. */
  kind?: 'fulltext' | 'spatial' | 'hash';
  /** MySQL/MariaDB: each column's prefix length and order, where one differs from the whole column ascending. */
  parts?: IndexPart[];
  /** MySQL/MariaDB: the index's comment. */
  comment?: string;
  /** MySQL/MariaDB: an index the optimizer ignores (MariaDB IGNORED, MySQL INVISIBLE). */
  ignored?: boolean;
}

/**
 * A constraint on some of a table's columns that lives apart from them: a
 * foreign key (from this table, or from another one to it) or a check.
 */
export interface ConstraintModel {
  kind: 'check' | 'foreign key';
  name: string;
  /** A foreign key of another table to this one's columns: that table. */
  from?: string;
  /** This table's columns it uses. */
  columns: string[];
  /** A foreign key of another table to this one, on PostgreSQL: the unique index it was bound to, which cannot go while it stays. */
  index?: string;
  /**
   * A foreign key of this table that zmigrate can write again, the same, on
   * other columns (alterColumn does, on the column it builds): what it
   * references and does on delete. Absent where it cannot: a key to another
   * schema, or with what zmigrate does not write (ON UPDATE other than the
   * default, ON DELETE SET DEFAULT, MATCH FULL, DEFERRABLE).
   */
  references?: ForeignKeyReference;
  /**
   * A check's condition, over the table's physical columns, where zmigrate
   * can write the check again (alterColumn does, on the column it builds):
   * on PostgreSQL a validated check of this table alone.
   */
  expression?: string;
}

export interface ForeignKeyReference {
  table: string;
  columns: string[];
  /** Unset: NO ACTION, the engines' default. */
  onDelete?: ForeignKeyAction;
}

/** A constraint as the dialects read it: type `c` a check, `f` a foreign key, `r` a foreign key of table `child` to this one. */
export function constraintOf(type: string, name: string, child: unknown, columns: string[], index?: unknown): ConstraintModel {
  if (type === 'c') return { kind: 'check', name, columns };
  return {
    kind: 'foreign key',
    name,
    ...(type === 'r' ? { from: String(child) } : {}),
    columns,
    ...(index === null || index === undefined ? {} : { index: String(index) }),
  };
}

/** Whether an index on `indexColumns` starts with `columns`, in order (what InnoDB needs for a foreign key). */
export function startsWith(rules: IdentifierRules, indexColumns: readonly string[], columns: readonly string[]): boolean {
  return columns.every((c, i) => indexColumns[i] !== undefined && rules.sameColumn(indexColumns[i], c));
}

/** Whether the primary key or an index of the table, other than `without`, starts with `columns`. */
export function servedByIndex(rules: IdentifierRules, table: TableModel, columns: readonly string[], without?: IndexModel): boolean {
  return (
    startsWith(rules, table.primaryKey, columns) ||
    table.indexes.some((i) => i !== without && !i.special && startsWith(rules, i.columns, columns))
  );
}

/**
 * Whether `c`, a constraint of table `on`, is an end of foreign key `name`
 * of table `source`: the key itself (on `source`), or its mark on the table
 * it references (`from` source).
 */
export function isForeignKeyEnd(c: ConstraintModel, name: string, on: TableModel, source: string): boolean {
  return c.kind === 'foreign key' && c.name === name && (c.from === undefined ? on.name === source : c.from === source);
}

/** For messages: `check "qty_positive"`, `foreign key "items_qty_fkey"`, `foreign key "x" of table "y"`. */
export function describeConstraint(c: ConstraintModel): string {
  return `${c.kind} ${JSON.stringify(c.name)}${c.from === undefined ? '' : ` of table ${JSON.stringify(c.from)}`}`;
}

export interface TableModel {
  name: string;
  columns: ColumnModel[];
  primaryKey: string[];
  /** PostgreSQL: the primary key's name (its constraint's and its index's), which alterColumn rebuilds under it. */
  primaryKeyName?: string;
  /** PostgreSQL: the primary key's index as IndexModel has it (its definition, and its INCLUDE columns in `uses`). */
  primaryKeyIndex?: Pick<IndexModel, 'definition' | 'uses' | 'deferrable'>;
  indexes: IndexModel[];
  /** Foreign keys and checks over the table's columns (where the dialect reads them). */
  constraints?: ConstraintModel[];
  /** Views that read the table (any of its columns, or only its rows), as ColumnModel.views. */
  views?: QualifiedName[];
  /**
   * PostgreSQL: other objects that hold on to the table itself and would stop
   * a DROP TABLE (a function with a SQL-standard body that reads it, a column
   * or function argument of its row type); its own triggers, policies and
   * publications go with it.
   */
  holders?: ColumnHolder[];
  /** PostgreSQL: a partitioned table, or a partition of one (operations on either are refused). */
  partitioned?: 'partitioned' | 'partition';
}

/** Compares identifiers the way the engine does (case-insensitive columns on MySQL, …). */
export interface IdentifierRules {
  sameTable(a: string, b: string): boolean;
  sameColumn(a: string, b: string): boolean;
}

export class SchemaModel {
  readonly #tables: TableModel[];

  /**
   * `others`: the names of the base schema's relations that are not tables
   * (views, sequences): no table may take one of them.
   */
  constructor(
    readonly rules: IdentifierRules,
    tables: TableModel[] = [],
    readonly others: readonly string[] = [],
  ) {
    this.#tables = tables;
  }

  get tables(): readonly TableModel[] {
    return this.#tables;
  }

  clone(): SchemaModel {
    return new SchemaModel(this.rules, structuredClone(this.#tables), this.others);
  }

  /** A view or sequence of the base schema by this name (as the engine compares table names). */
  other(name: string): string | undefined {
    return this.others.find((o) => this.rules.sameTable(o, name));
  }

  table(name: string): TableModel | undefined {
    return this.#tables.find((t) => this.rules.sameTable(t.name, name));
  }

  column(table: string, column: string): ColumnModel | undefined {
    return this.table(table)?.columns.find((c) => this.rules.sameColumn(c.name, column));
  }

  index(name: string): { table: TableModel; index: IndexModel } | undefined {
    for (const table of this.#tables) {
      const index = table.indexes.find((i) => i.name === name);
      if (index) return { table, index };
    }
    return undefined;
  }

  addTable(table: TableModel): void {
    this.#tables.push(table);
  }

  removeTable(name: string): void {
    const i = this.#tables.findIndex((t) => this.rules.sameTable(t.name, name));
    if (i >= 0) this.#tables.splice(i, 1);
  }
}

/** One column of a version view: the name the application uses and the physical column behind it. */
export interface ViewColumn {
  name: string;
  source: string;
  /**
   * The view's own default for the column, for inserts through it (where
   * capabilities.viewColumnDefaults): the default the column will have once
   * contracted, which the physical column behind it has not yet.
   */
  default?: string;
}

export interface ViewTable {
  /** The name the application uses. */
  name: string;
  /** The physical table behind it. */
  source: string;
  columns: ViewColumn[];
}

/** How one application version sees the database: the views of its version schema. */
export class VersionView {
  readonly #tables: ViewTable[];

  constructor(
    readonly rules: IdentifierRules,
    tables: ViewTable[] = [],
  ) {
    this.#tables = tables;
  }

  get tables(): readonly ViewTable[] {
    return this.#tables;
  }

  clone(): VersionView {
    return new VersionView(this.rules, structuredClone(this.#tables));
  }

  table(name: string): ViewTable | undefined {
    return this.#tables.find((t) => this.rules.sameTable(t.name, name));
  }

  column(table: string, column: string): ViewColumn | undefined {
    return this.table(table)?.columns.find((c) => this.rules.sameColumn(c.name, column));
  }

  addTable(table: ViewTable): void {
    this.#tables.push(table);
  }

  removeTable(name: string): void {
    const i = this.#tables.findIndex((t) => this.rules.sameTable(t.name, name));
    if (i >= 0) this.#tables.splice(i, 1);
  }

  /** Every table and column exactly as the physical model has it. */
  static identity(model: SchemaModel, isHelperColumn: (name: string) => boolean): VersionView {
    return new VersionView(
      model.rules,
      model.tables.map((t) => ({
        name: t.name,
        source: t.name,
        columns: t.columns.filter((c) => !isHelperColumn(c.name)).map((c) => ({ name: c.name, source: c.name })),
      })),
    );
  }
}
