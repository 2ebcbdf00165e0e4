import type { Migrator } from '../api';
import type { CliIO } from './io';
import type { Output } from './output';

export interface GlobalArgs {
  url?: string;
  dir?: string;
  config?: string;
  lockTimeout?: number;
  lockRetries?: number;
  wait?: number;
  json?: boolean;
  verbose?: boolean;
}

export interface CommandContext {
  args: GlobalArgs & Record<string, unknown>;
  /** The streams, environment and folder the run was given. */
  io: CliIO;
  output: Output;
  /** Created on first use, so `new` works without a database. */
  migrator(): Promise<Migrator>;
  dir(): Promise<string>;
}

/** A command returns its exit code. */
export type Command = (ctx: CommandContext) => Promise<number>;
