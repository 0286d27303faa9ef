import type { AuthBackendName, UnixIdentity } from '@trainyard/shared';
import type { UserRecord } from '../users/user-repository.js';

/** What a directory knows about a person, where its attribute mapping gives it (LDAP). */
export interface DirectoryAttributes {
  /** For the agent-user link of a user created on first login: all four fields, or none. */
  unix?: UnixIdentity;
  /** Names of the directory groups the person belongs to (primary group included). */
  groups?: string[];
}

/**
 * A backend's answer. `unavailable` means it could not decide (server down, native module
 * missing): the login is refused, but it is not the user's failure. `reason` is shown to the
 * person logging in, so it never holds secrets or internal addresses; `cause` goes to the log.
 */
export type Verdict =
  | { outcome: 'ok'; attributes?: DirectoryAttributes }
  | { outcome: 'wrong' }
  | { outcome: 'unavailable'; reason: string; cause?: unknown };

export interface LoginAttempt {
  /** The login name, trimmed and lower-cased, already matching the username rule. */
  username: string;
  password: string;
  /** The Trainyard user, when one exists (the internal backend reads its hash). */
  user?: UserRecord;
}

/** One way of checking a password. A backend never throws for a wrong password or an outage: it says so. */
export interface AuthBackend {
  readonly name: AuthBackendName;
  verify(attempt: LoginAttempt): Promise<Verdict>;
  /** Where this backend's users change their password, for the refusal of a change in Trainyard. */
  readonly passwordHome: string;
}

export const ok = (attributes?: DirectoryAttributes): Verdict => (attributes ? { outcome: 'ok', attributes } : { outcome: 'ok' });
export const WRONG: Verdict = { outcome: 'wrong' };
export const unavailable = (reason: string, cause?: unknown): Verdict => ({ outcome: 'unavailable', reason, cause });
