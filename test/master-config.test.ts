import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ROOT, runProcess } from './helpers/cli.js';

const MASTER = path.join(ROOT, 'packages', 'master', 'bin', 'yard-master.js');

// Two masters at a time (CI has 2 cores): seventeen starting at once on a loaded machine outlast the time limit.
let free = 2;
const waiting: Array<() => void> = [];
async function twoAtATime<T>(run: () => Promise<T>): Promise<T> {
  if (free > 0) free--;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  try {
    return await run();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else free++;
  }
}

async function startWith(yaml: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yard-config-'));
  const file = path.join(dir, 'master.yaml');
  writeFileSync(file, yaml);
  return twoAtATime(() => runProcess(process.execPath, [MASTER, '--config', file], { timeoutMs: 15_000 }));
}

for (const [yaml, named] of [
  ['listen: {port: 99999}\n', /listen\.port/],
  ['security: {session_tll: 30d}\n', /security\.session_tll: unknown key/],
  ['security: {session_ttl: forever}\n', /security\.session_ttl: "forever" is not a positive duration/],
  ['security: {default_task: {user: root, uid: -1, group: root, gid: 0}}\n', /security\.default_task\.uid/],
  ['security: {default_task: {user: root, uid: 0}}\n', /security\.default_task\.gid/],
  ['nonsense: true\n', /nonsense: unknown key/],
  ['listen: [1, 2\n', /not valid YAML/],
  ['policy: {system: {mounts: {available: [{host_path: /}]}}}\n', /policy\.system\.mounts\.available\.0\.host_path: mount of \/ refused by floor\.host_root/],
  ['policy: {system: {mounts: {available: [{host_path: "/scratch/{name}"}]}}}\n', /"\{name\}" is not a placeholder/],
  ['auth: {ldap: {search_base: "dc=x"}}\n', /auth\.ldap\.url: give either url or urls/],
  ['auth: {ldap: {url: "ldaps://x", starttls: true, search_base: "dc=x"}}\n', /auth\.ldap\.starttls: ldaps:\/\/ is TLS already/],
  ['auth: {ldap: {url: "ldap://x", bind_dn: "cn=svc", search_base: "dc=x"}}\n', /auth\.ldap\.bind_dn: needs bind_password_file or bind_password_env/],
  ['auth: {ldap: {url: "ldap://x", search_base: "dc=x", user_filter: "uid=*)(x"}}\n', /auth\.ldap\.user_filter: .* is not an LDAP filter/],
  ['auth: {ldap: {url: "http://x", search_base: "dc=x"}}\n', /auth\.ldap\.url: must be an ldap:\/\/ or ldaps:\/\/ URL/],
  ['auth: {auto_provision: {backend: ldap}}\n', /auth\.auto_provision\.backend: ldap is not configured: add auth\.ldap/],
  ['auth: {ldap: {url: "ldap://x", search_base: "dc=x", bind_dn: "cn=svc", bind_password_file: ./missing.secret}}\n', /auth\.ldap\.bind_password_file: cannot read .*missing\.secret: ENOENT/],
  ['auth: {file: {}}\n', /auth\.file\.path/],
] as const) {
  test(`the master refuses to start on ${JSON.stringify(yaml.trim())} and names the key`, async (t) => {
    const result = await startWith(yaml);
    t.is(result.code, 1);
    t.regex(result.stderr, /refusing to start/);
    t.regex(result.stderr, named);
  });
}

test('a missing config file is named', async (t) => {
  const result = await runProcess(process.execPath, [MASTER, '--config', '/nonexistent/master.yaml']);
  t.is(result.code, 1);
  t.regex(result.stderr, /cannot read config file \/nonexistent\/master\.yaml/);
});

test('the repository master.yaml is valid', async (t) => {
  const { loadConfig } = await import('@trainyard/master');
  const config = loadConfig(path.join(ROOT, 'master.yaml'));
  t.is(config.security.session_ttl, 30 * 24 * 3600 * 1000);
  t.deepEqual(config.security.default_task, { user: 'root', uid: 0, group: 'root', gid: 0 });
});

test('a moved key says where it went; a policy the floor would always refuse names the key (in process: no more masters to spawn)', async (t) => {
  const { parseConfig } = await import('@trainyard/master');
  t.throws(() => parseConfig({ agents: { allow_pull: true } }), { message: /agents\.allow_pull: moved: pulling is now policy\.system\.images\.pull/ });
  t.throws(() => parseConfig({ policy: { groups: { research: { priority: 1, capabilities: { add: ['SYS_ADMIN'] } } } } }), {
    message: /policy\.groups\.research\.capabilities\.add\.0: capability SYS_ADMIN refused by floor\.capability/,
  });
  // Tasks' services need an origin that is not the master's own.
  t.throws(() => parseConfig({ listen: { port: 8080, services_port: 8080 } }), { message: /listen\.services_port: must differ from listen\.port/ });
  t.throws(() => parseConfig({ http: { public_url: 'https://yard.example.com', services_url: 'https://yard.example.com' } }), {
    message: /http\.services_url: https:\/\/yard\.example\.com is also in http\.public_url/,
  });
  t.throws(() => parseConfig({ http: { services_url: 'https://yard.example.com:8443' } }), { message: /http\.services_url: set http\.public_url too/ });
  t.is(parseConfig({ http: { public_url: 'https://yard.example.com', services_url: 'https://yard.example.com:8443/' } }).http.services_url, 'https://yard.example.com:8443');
  // Safe by default: tasks' services get a port of their own, the master's + 1 (any free one next to port 0).
  t.is(parseConfig({}).listen.services_port, 8081);
  t.is(parseConfig({ listen: { port: 9000 } }).listen.services_port, 9001);
  t.is(parseConfig({ listen: { port: 0 } }).listen.services_port, 0);
  t.is(parseConfig({ listen: { port: 9000, services_port: 7000 } }).listen.services_port, 7000);
  t.throws(() => parseConfig({ listen: { port: 65535 } }), { message: /listen\.services_port: .*65535 has no port after it/ });
  // Behind a reverse proxy the services' origin is its; turning the services origin off is said in so many words.
  t.is(parseConfig({ http: { public_url: 'https://yard.example.com', services_url: 'https://yard.example.com:8443' } }).listen.services_port, undefined);
  const unsafe = parseConfig({ http: { unsafe_services_on_master_origin: true } });
  t.is(unsafe.listen.services_port, undefined);
  t.throws(() => parseConfig({ listen: { services_port: 8081 }, http: { unsafe_services_on_master_origin: true } }), {
    message: /http\.unsafe_services_on_master_origin: cannot be set with listen\.services_port/,
  });
});
