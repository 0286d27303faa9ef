import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPamBinding, PAM_MODULE } from '../../packages/master/src/auth/pam-backend.js';

/** Why a PAM service of the tests' own cannot be set up here, or undefined when it can. */
export function pamMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: cannot add a service to /etc/pam.d';
  const modules = ['pam_pwdfile.so', 'pam_listfile.so'].filter((module) => !moduleDirs().some((dir) => existsSync(`${dir}/${module}`)));
  if (modules.length > 0) return `${modules.join(', ')} not installed (Debian's libpam-pwdfile, libpam-modules)`;
  if (!existsSync('/usr/bin/openssl')) return 'openssl is not installed (it writes the crypt hashes pam_pwdfile reads)';
  const binding = loadPamBinding();
  if ('error' in binding) return `the optional ${PAM_MODULE} binding is not built (libpam0g-dev was missing at install): ${binding.error}`;
  return undefined;
}

/** Where PAM modules live: /lib/security, or per architecture as Debian puts them (/lib/x86_64-linux-gnu/security). */
function moduleDirs(): string[] {
  const perArch = (root: string) =>
    existsSync(root) ? readdirSync(root).filter((name) => name.includes('-linux-')).map((name) => `${root}/${name}/security`) : [];
  return ['/lib/security', '/usr/lib/security', ...perArch('/lib'), ...perArch('/usr/lib')];
}

export interface PamService {
  name: string;
  setPassword(user: string, password: string): void;
  /** Accounts on this list fail PAM's account check (pam_listfile in the `account` stack). */
  lockAccounts(users: string[]): void;
  remove(): void;
}

/**
 * A PAM service of its own in /etc/pam.d: pam_pwdfile checks passwords against a throwaway file
 * (no system accounts), and pam_listfile in the account stack refuses the accounts on a list,
 * so a right password with a refused account shows that the account check runs.
 */
export function createPamService(): PamService {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yard-pam-'));
  const name = `trainyard-test-${process.pid}-${path.basename(dir).slice(-6).toLowerCase()}`;
  const passwords = new Map<string, string>();
  const passwdFile = path.join(dir, 'passwd');
  const lockedFile = path.join(dir, 'locked');
  const write = () =>
    writeFileSync(passwdFile, [...passwords].map(([user, hash]) => `${user}:${hash}\n`).join(''), { mode: 0o600 });
  write();
  writeFileSync(lockedFile, '', { mode: 0o644 });
  const file = `/etc/pam.d/${name}`;
  writeFileSync(
    file,
    [
      `auth required pam_pwdfile.so pwdfile=${passwdFile}`,
      `account required pam_listfile.so item=user sense=deny file=${lockedFile} onerr=fail`,
      'account required pam_permit.so',
      '',
    ].join('\n'),
  );
  process.once('exit', () => rmSync(file, { force: true }));
  return {
    name,
    setPassword(user, password) {
      const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: `${password}\n`, encoding: 'utf8' }).trim();
      passwords.set(user, hash);
      write();
    },
    lockAccounts(users) {
      writeFileSync(lockedFile, users.map((user) => `${user}\n`).join(''));
    },
    remove() {
      rmSync(file, { force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
