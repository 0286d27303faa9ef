import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from './cluster.js';

// Debian's OpenLDAP server; `npm test` installs it (scripts/auth-servers.sh).
const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const SLAPMODIFY = '/usr/sbin/slapmodify';
const SCHEMAS = ['core', 'cosine', 'nis', 'inetorgperson'].map((name) => `/etc/ldap/schema/${name}.schema`);

/** Why slapd cannot run here, or undefined when it can. */
export function slapdMissing(): string | undefined {
  const missing = [SLAPD, SLAPADD, SLAPMODIFY, ...SCHEMAS].find((file) => !existsSync(file));
  if (missing) return `${missing} is not installed (Debian's slapd package)`;
  return undefined;
}

export interface Slapd {
  url: string;
  /** ldaps:// beside ldap://, when started with a certificate. */
  ldapsUrl?: string;
  port: number;
  suffix: string;
  /** The service account the master searches with. */
  serviceDn: string;
  servicePassword: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies LDIF changes (`changetype: modify`...) to the directory: stops it, changes the database, starts it again. */
  modify(changes: string): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

/**
 * A throwaway OpenLDAP server on 127.0.0.1: its own slapd.conf, database and pid file in a temp
 * dir, loaded from `ldif` with slapadd; the system's own directory is never touched. Anonymous
 * clients may only bind; the service account reads everything.
 */
export async function startSlapd(ldif: string, options: { tls?: { certFile: string; keyFile: string } } = {}): Promise<Slapd> {
  const suffix = 'dc=example,dc=org';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yard-slapd-'));
  const data = path.join(dir, 'data');
  mkdirSync(data);
  const serviceDn = `cn=trainyard,ou=services,${suffix}`;
  const servicePassword = 'service-secret';
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      ...SCHEMAS.map((schema) => `include ${schema}`),
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${dir}/slapd.pid`,
      `argsfile ${dir}/slapd.args`,
      'database mdb',
      'maxsize 10485760',
      `suffix "${suffix}"`,
      `rootdn "cn=admin,${suffix}"`,
      'rootpw admin-secret',
      `directory ${data}`,
      ...(options.tls ? [`TLSCertificateFile ${options.tls.certFile}`, `TLSCertificateKeyFile ${options.tls.keyFile}`] : []),
      'access to attrs=userPassword by anonymous auth by self write by * none',
      `access to * by dn.exact="${serviceDn}" read by self read by * none`,
      '',
    ].join('\n'),
  );
  const service = `dn: ${serviceDn}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: trainyard\nuserPassword: ${servicePassword}\n`;
  const ldifFile = path.join(dir, 'data.ldif');
  writeFileSync(ldifFile, `${ldif.trim()}\n\n${service}`);
  const load = spawnSync(SLAPADD, ['-f', conf, '-l', ldifFile], { encoding: 'utf8' });
  if (load.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`slapadd failed: ${load.stderr}`);
  }

  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = options.tls ? `ldaps://127.0.0.1:${await freePort()}` : undefined;
  let child: ChildProcess | undefined;
  let output = '';
  const slapd: Slapd = {
    url,
    ...(ldapsUrl ? { ldapsUrl } : {}),
    port,
    suffix,
    serviceDn,
    servicePassword,
    async start() {
      // -d keeps it in the foreground, so it ends with the test process's handle on it.
      const listen = [url, ...(ldapsUrl ? [ldapsUrl] : [])].map((u) => `${u}/`).join(' ');
      child = spawn(SLAPD, ['-f', conf, '-h', listen, '-d', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      await waitFor(`slapd on ${listen}: ${output}`, async () => (await answers(port)) && (!ldapsUrl || (await answers(Number(new URL(ldapsUrl).port)))), 15_000);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    },
    async modify(changes) {
      await slapd.stop();
      const file = path.join(dir, 'changes.ldif');
      writeFileSync(file, `${changes.trim()}\n`);
      const result = spawnSync(SLAPMODIFY, ['-f', conf, '-l', file], { encoding: 'utf8' });
      await slapd.start();
      if (result.status !== 0) throw new Error(`slapmodify failed: ${result.stderr}`);
    },
    async destroy() {
      await slapd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  await slapd.start().catch(async (error: unknown) => {
    await slapd.destroy();
    throw error;
  });
  return slapd;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A throwaway CA and a certificate it signed for 127.0.0.1 (EC keys: quick to make). */
export function makeCertificates(dir: string, name: string): { caFile: string; certFile: string; keyFile: string } {
  const file = (suffix: string) => path.join(dir, `${name}-${suffix}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', `/CN=${name} test CA`]);
  openssl(['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(file('ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '1', '-extfile', file('ext')]);
  return { caFile: file('ca.pem'), certFile: file('server.pem'), keyFile: file('server.key') };
}
