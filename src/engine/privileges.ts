import type { Dialect } from '../dialects/dialect';
import { serverText } from '../dialects/permission';
import { PrivilegeError } from '../errors';

export const PRIVILEGE_HINT =
  'grant it and run the same command again, it resumes where it stopped; docs/deploying.md lists what the migration user needs';

/**
 * A permission error from the server as one clear line: what zmigrate was
 * doing, which privilege on which object the user lacks, the server's words.
 */
export function privilegeError(dialect: Dialect, error: unknown, context?: string): PrivilegeError {
  const missing = dialect.missingPrivilege(error);
  return new PrivilegeError(
    `${context ? `${context}: ` : ''}permission denied: the database user lacks ${missing ?? 'a privilege this needs'} (the server said: ${serverText(error)})`,
    { cause: error, hint: PRIVILEGE_HINT },
  );
}
