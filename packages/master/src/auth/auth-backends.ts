import type { AuthBackendName } from '@trainyard/shared';
import type { Logger } from 'pino';
import type { AuthConfig } from '../config/config-schema.js';
import type { PasswordHasher } from '../users/password-hasher.js';
import { unavailable, WRONG, type AuthBackend, type LoginAttempt, type Verdict } from './auth-backend.js';
import { mapDirectoryGroups } from './directory-groups.js';
import { createFileBackend } from './file-backend.js';
import { createInternalBackend } from './internal-backend.js';
import { createLdapBackend } from './ldap-backend.js';
import { createPamBackend, type PamBinding } from './pam-backend.js';

const LABELS: Record<AuthBackendName, string> = { internal: 'Trainyard', ldap: 'LDAP', pam: 'PAM', file: 'password-file' };

/** The backends master.yaml configures (internal always), and the one rule every login goes through. */
export class AuthBackends {
  private constructor(
    private readonly backends: ReadonlyMap<AuthBackendName, AuthBackend>,
    private readonly config: AuthConfig,
  ) {}

  static fromConfig(
    config: AuthConfig,
    deps: { hasher: PasswordHasher; logger: Logger; env?: NodeJS.ProcessEnv; loadPam?: () => PamBinding | { error: string } },
  ): AuthBackends {
    const backends = new Map<AuthBackendName, AuthBackend>([['internal', createInternalBackend(deps.hasher)]]);
    if (config.ldap) backends.set('ldap', createLdapBackend(config.ldap, deps.logger, deps.env));
    if (config.pam) backends.set('pam', createPamBackend(config.pam.service, deps.logger, deps.loadPam));
    if (config.file) backends.set('file', createFileBackend(config.file.path, deps.logger));
    return new AuthBackends(backends, config);
  }

  isConfigured(name: AuthBackendName): boolean {
    return this.backends.has(name);
  }

  /** The backend whose successful logins create users, if master.yaml names one. */
  get autoProvision(): AuthBackendName | undefined {
    return this.config.auto_provision?.backend;
  }

  /** Where a user of this backend changes their password. */
  passwordHome(name: AuthBackendName): string {
    return this.backends.get(name)?.passwordHome ?? `${this.label(name)}, which this master does not configure`;
  }

  /**
   * Asks the named backend. A backend that is not configured, or that throws, is unavailable:
   * never a way in. Passwords with NUL never reach an external backend: C strings (PAM, LDAP
   * servers) would cut them short and accept the part before it.
   */
  async verify(name: AuthBackendName, attempt: LoginAttempt): Promise<Verdict> {
    const backend = this.backends.get(name);
    if (!backend) return unavailable(`${this.label(name)} sign-in is not configured on this master: tell an admin (auth.${name} in master.yaml)`);
    if (name !== 'internal' && attempt.password.includes('\0')) return WRONG;
    try {
      return await backend.verify(attempt);
    } catch (error) {
      return unavailable(`${this.label(name)} could not check the password: tell an admin`, error);
    }
  }

  /** The Trainyard group memberships a directory login gives, when auth.ldap.groups.map is set. */
  groupMembership(groups: string[] | undefined): { paths: string[]; managed: string[] } | undefined {
    const map = this.config.ldap?.groups?.map;
    if (!groups || !map || Object.keys(map).length === 0) return undefined;
    return mapDirectoryGroups(groups, map);
  }

  label(name: AuthBackendName): string {
    return LABELS[name] ?? name;
  }
}
