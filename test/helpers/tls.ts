import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCertificate {
  cert: string;
  key: string;
  /** The certificate's PEM text, to trust it in this process (`ca`). */
  pem: string;
}

/**
 * A self-signed certificate for localhost and 127.0.0.1, made with Debian's openssl (installed
 * with apt-get when missing, as root), valid for two days.
 */
export function makeSelfSignedCertificate(dir: string): TestCertificate {
  if (spawnSync('openssl', ['version']).status !== 0) {
    console.error('\n!!! openssl is missing: installing it with apt-get for the TLS tests\n');
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'openssl'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'pipe' });
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}
