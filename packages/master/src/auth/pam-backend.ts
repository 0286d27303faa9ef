import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { ok, unavailable, WRONG, type AuthBackend } from './auth-backend.js';

/**
 * Only what Trainyard uses of PAM: authenticate (pam_authenticate) and then the account check
 * (pam_acct_mgmt), so an expired or locked account fails even with the right password. Resolves
 * to PAM's return code, 0 on success.
 */
export interface PamBinding {
  authenticate(service: string, username: string, password: string): Promise<number>;
}

/** The native module is optional: it builds only where libpam's headers are installed. */
export const PAM_MODULE = 'node-linux-pam';

interface NodeLinuxPam {
  pamAuthenticate(
    options: { username: string; password: string; serviceName: string },
    callback: (error: Error | null, code: number) => void,
  ): void;
}

/** Loads the binding on first use; a missing module is an answer, not a crash. */
export function loadPamBinding(moduleName = PAM_MODULE): PamBinding | { error: string } {
  let native: NodeLinuxPam;
  try {
    native = createRequire(import.meta.url)(moduleName) as NodeLinuxPam;
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0]! };
  }
  return {
    authenticate: (service, username, password) =>
      new Promise((resolve) => native.pamAuthenticate({ username, password, serviceName: service }, (_error, code) => resolve(code))),
  };
}

// PAM's answers that mean "not this password, not this account": expired and locked included.
const REFUSALS = new Set([
  6, // PAM_PERM_DENIED
  7, // PAM_AUTH_ERR
  8, // PAM_CRED_INSUFFICIENT
  10, // PAM_USER_UNKNOWN
  11, // PAM_MAXTRIES
  12, // PAM_NEW_AUTHTOK_REQD: the password must be changed first
  13, // PAM_ACCT_EXPIRED
  16, // PAM_CRED_EXPIRED
  27, // PAM_AUTHTOK_EXPIRED
]);

/** PAM on the master's host, through the service named in master.yaml. */
export function createPamBackend(service: string, logger: Logger, load: () => PamBinding | { error: string } = loadPamBinding): AuthBackend {
  let binding: PamBinding | { error: string } | undefined;
  if (!['/etc/pam.d', '/usr/lib/pam.d'].some((dir) => existsSync(`${dir}/${service}`))) {
    logger.warn({ service }, `no /etc/pam.d/${service}: PAM falls back to its "other" service`);
  }
  return {
    name: 'pam',
    passwordHome: `PAM on the master's host (service '${service}'), e.g. with passwd`,
    async verify({ username, password }) {
      binding ??= load();
      if ('error' in binding) {
        return unavailable(
          `PAM support is not available on this master: its native module (${PAM_MODULE}) is not installed; ` +
            'an admin installs libpam0g-dev (or the system\'s PAM headers) and runs the install again',
          binding.error,
        );
      }
      const code = await binding.authenticate(service, username, password);
      if (code === 0) return ok();
      if (REFUSALS.has(code)) return WRONG;
      return unavailable("PAM on the master's host could not check the password: tell an admin", `PAM return code ${code}`);
    },
  };
}
