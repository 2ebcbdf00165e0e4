export { Migrator, type MigratorOptions } from './api';
export { defineMigration, op } from './migration/define';
export type * from './migration/types';
export type { Operation } from './operations/operation';
export type { BackfillResult, MigrationStatus, PhasePlan } from './engine/runner';
export type { MigrationPhase } from './engine/state-store';
export type { Logger } from './engine/logger';
export * from './errors';
export { latestVersionSchema, knexConfigForVersion, pgConfigForVersion, mysqlConfigForVersion, MYSQL_VERSION_SQL } from './app/version';
