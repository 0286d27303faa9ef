import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import pino from 'pino';
import type { AuditEntry, Page, Task, TaskLogPage, User } from '@trainyard/shared';
import type { MasterConfigInput } from '@trainyard/master';
import { parseConfig } from '@trainyard/master';
import { createLdapBackend } from '../packages/master/src/auth/ldap-backend.js';
import { api, loginToken } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { FAST_AGENTS, startAgent, tempDir } from './helpers/cluster.js';
import { makeCertificates, slapdMissing, startSlapd, type Slapd } from './helpers/slapd.js';
import { startTestMaster } from './helpers/test-master.js';

// A small directory: people with POSIX ids, a primary group each (alice has her own), and groups.
const person = (uid: string, uidNumber: number, gidNumber: number) => `dn: uid=${uid},ou=people,dc=example,dc=org
objectClass: inetOrgPerson
objectClass: posixAccount
uid: ${uid}
cn: ${uid}
sn: ${uid}
uidNumber: ${uidNumber}
gidNumber: ${gidNumber}
homeDirectory: /home/${uid}
userPassword: ${uid}-pw
`;
const group = (cn: string, gidNumber: number, members: string[]) => `dn: cn=${cn},ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: ${cn}
gidNumber: ${gidNumber}
${members.map((m) => `memberUid: ${m}`).join('\n')}
`;
const LDIF = [
  'dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n',
  ...['people', 'groups', 'services'].map((ou) => `dn: ou=${ou},dc=example,dc=org\nobjectClass: organizationalUnit\nou: ${ou}\n`),
  person('alice', 5001, 5001),
  person('bob', 5002, 5000),
  person('carol', 5003, 5000),
  person('dave', 5004, 5000),
  // Two entries with one login name: nobody can log in as it.
  person('twin', 5005, 5000),
  'dn: ou=contractors,ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: contractors\n',
  person('twin', 5006, 5000).replace('uid=twin,ou=people', 'uid=twin,ou=contractors,ou=people'),
  group('alice', 5001, []),
  group('staff', 5000, ['alice', 'bob', 'carol', 'dave']),
  group('ml-researchers', 5100, ['alice']),
].join('\n');

const missing = slapdMissing();
if (missing) {
  console.error(`\n!!! NO LDAP SERVER: the LDAP tests are NOT running (${missing}). \`npm test\` installs it where it can (scripts/auth-servers.sh).\n`);
  test.skip('LDAP tests (slapd is not available)', () => {});
} else {
  registerTests();
}

const PASSWORD_ENV = 'YARD_TEST_LDAP_SERVICE_PASSWORD';

function ldapConfig(slapd: Slapd, extra: Record<string, unknown> = {}) {
  process.env[PASSWORD_ENV] = slapd.servicePassword;
  return {
    url: slapd.url,
    bind_dn: slapd.serviceDn,
    bind_password_env: PASSWORD_ENV,
    search_base: 'ou=people,dc=example,dc=org',
    connect_timeout: '2s',
    timeout: '5s',
    ...extra,
  };
}

const login = (url: string, username: string, password: string) => api(url, 'POST', '/auth/login', { body: { username, password } });

function registerTests() {
  let shared: Slapd;
  test.before(async () => {
    shared = await startSlapd(LDIF);
  });
  test.after.always(async () => {
    await shared?.destroy();
  });

  async function master(t: { teardown(fn: () => Promise<void>): void }, config: MasterConfigInput) {
    const m = await startTestMaster(config);
    t.teardown(() => m.stop());
    return m;
  }

  test('an LDAP user logs in with the right password; a wrong one, an empty one and filter injection fail alike', async (t) => {
    const m = await master(t, { auth: { ldap: ldapConfig(shared) } });
    const admin = new Terminal(m.url);
    const created = await admin.run(['-u', 'admin', 'user', 'create', 'bob', '--auth', 'ldap'], { env: { YARD_PASSWORD: '' } });
    t.is(created.code, 0, created.stderr);
    t.regex(created.stdout, /Created user bob \(signs in through ldap\)/);
    t.regex((await admin.run(['user', 'list'])).stdout, /^bob\s+no\s+yes\s+ldap\s/m);

    const bob = new Terminal(m.url);
    const ok = await bob.run(['user', 'login', 'bob', '--password-stdin'], { input: 'bob-pw\n' });
    t.is(ok.code, 0, ok.stderr);
    t.is((await bob.run(['user', 'whoami'])).stdout.trim(), 'bob');

    const wrong = await new Terminal(m.url).run(['user', 'login', 'bob', '--password-stdin'], { input: 'alice-pw\n' });
    t.is(wrong.code, 1);
    t.is(wrong.stderr.trim(), 'Error: invalid username or password');

    const unknown = await login(m.url, 'nobody', 'x');
    t.is(unknown.status, 401);
    for (const [username, password] of [
      ['bob', ''], // an unauthenticated bind, which LDAP servers accept
      ['*)(uid=*', 'bob-pw'],
      ['bob)(uid=*', 'bob-pw'],
      ['*', 'bob-pw'],
      ['bob', 'bob-pw\u0000anything'],
      ['b'.repeat(200), 'bob-pw'],
    ]) {
      const refused = await login(m.url, username!, password!);
      t.is(refused.status, 401, `${JSON.stringify(username)} / ${JSON.stringify(password)}`);
      t.deepEqual(refused.body, unknown.body);
    }

    // Their password lives in the directory, and Trainyard says so.
    const change = await bob.run(['user', 'change-password', '--password-stdin'], { input: 'new-pw\n' });
    t.is(change.code, 1);
    t.is(change.stderr.trim(), "Error: bob's password lives in the LDAP directory: change it there (Trainyard keeps no password for this user)");
    t.is((await login(m.url, 'bob', 'bob-pw')).status, 200, 'still the directory password');
  });

  test('the LDAP backend matches the login name as a value: filter syntax in it finds nobody', async (t) => {
    const config = parseConfig({ auth: { ldap: ldapConfig(shared) } }).auth.ldap!;
    const backend = createLdapBackend(config, pino({ level: 'silent' }));
    t.is((await backend.verify({ username: 'alice', password: 'alice-pw' })).outcome, 'ok');
    // Spliced into filter text, these would match alice (or everyone) and bind with her password.
    for (const username of ['alice)(uid=*', '*)(uid=*', '*', 'al*', 'alice)(|(uid=*', 'alice\\29']) {
      t.deepEqual(await backend.verify({ username, password: 'alice-pw' }), { outcome: 'wrong' }, username);
    }
    t.deepEqual(await backend.verify({ username: 'twin', password: 'twin-pw' }), { outcome: 'wrong' }, 'a name two entries share');
  });

  test('auto-provisioning: the first login creates the user, linked to the directory uid/gid; their task runs as that uid', async (t) => {
    const dir = tempDir('yard-ldap-');
    const passwordFile = path.join(dir, 'ldap.secret');
    writeFileSync(passwordFile, `${shared.servicePassword}\n`, { mode: 0o600 });
    const m = await master(t, {
      auth: {
        ldap: {
          ...ldapConfig(shared),
          bind_password_env: undefined,
          bind_password_file: passwordFile,
          // Directory names match without regard to case; `none` names a group nobody created.
          groups: { search_base: 'ou=groups,dc=example,dc=org', map: { 'ML-Researchers': 'research/ml', staff: 'staff', nobody: 'none' } },
        },
        auto_provision: { backend: 'ldap' },
      },
      agents: { ...FAST_AGENTS, lost_timeout: '60s', token_file: path.join(dir, 'agent.token') },
    });
    const admin = await loginToken(m.url, 'admin');
    for (const group of ['research', 'research/ml', 'staff']) t.is((await api(m.url, 'POST', '/groups', { token: admin, body: { path: group } })).status, 201);
    t.is((await api(m.url, 'GET', '/users/alice', { token: admin })).status, 404, 'no alice before her first login');
    t.is((await login(m.url, 'alice', 'wrong')).status, 401);
    t.is((await api(m.url, 'GET', '/users/alice', { token: admin })).status, 404, 'a failed login creates nobody');
    t.is((await login(m.url, 'ghost', 'ghost-pw')).status, 401);

    const alice = new Terminal(m.url);
    const first = await alice.run(['user', 'login', 'alice', '--password-stdin'], { input: 'alice-pw\n' });
    t.is(first.code, 0, first.stderr);
    const created = (await api<User>(m.url, 'GET', '/users/alice', { token: admin })).body;
    t.like(created, { username: 'alice', admin: false, active: true, auth: 'ldap', agentUser: { uid: 5001, user: 'alice', gid: 5001, group: 'alice' } });
    // security.default_role, like any new user; and the Trainyard groups her directory groups map to.
    t.deepEqual(created.roles, [{ role: 'user', scope: null }]);
    t.deepEqual(created.groups, ['research/ml', 'staff']);

    // bob's primary group is the directory's staff group, and names his link's group.
    t.is((await login(m.url, 'bob', 'bob-pw')).status, 200);
    t.like((await api<User>(m.url, 'GET', '/users/bob', { token: admin })).body, { auth: 'ldap', groups: ['staff'], agentUser: { uid: 5002, user: 'bob', gid: 5000, group: 'staff' } });
    t.is((await login(m.url, 'bob', 'bob-pw')).status, 200, 'a second login finds the user it made');
    t.is((await api<Page<User>>(m.url, 'GET', '/users', { token: admin })).body.items.filter((u) => u.username === 'bob').length, 1);

    const agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: 'auth-ldap-process', executor: 'process' });
    t.teardown(() => agent.kill('SIGKILL'));
    const run = await alice.run(['command', 'run', '-f', '--', 'sh', '-c', 'id -u; id -g']);
    t.is(run.code, 0, `${run.stdout}\n${run.stderr}\n${agent.output()}`);
    const tasks = await alice.json<{ items: Task[] }>(['command', 'list']);
    const task = tasks.items[0]!;
    t.like(task, { state: 'COMPLETED', runAs: { uid: 5001, user: 'alice', gid: 5001, group: 'alice' } });
    const logs = await api<TaskLogPage>(m.url, 'GET', `/tasks/${task.id}/logs`, { token: await loginToken(m.url, 'alice', 'alice-pw') });
    t.deepEqual(logs.body.items.map((l) => l.line).filter((l) => !l.startsWith('[trainyard]')), ['5001', '5001']);
  });

  test('directory groups: in the LDAP group, a member of the mapped Trainyard group; out of it at the next login; other groups untouched', async (t) => {
    const own = await startSlapd(LDIF);
    t.teardown(() => own.destroy());
    const m = await master(t, {
      auth: { ldap: { ...ldapConfig(own), groups: { search_base: 'ou=groups,dc=example,dc=org', map: { 'ml-researchers': 'research/ml' } } } },
    });
    const admin = await loginToken(m.url, 'admin');
    for (const group of ['research', 'research/ml', 'staff']) await api(m.url, 'POST', '/groups', { token: admin, body: { path: group } });
    t.is((await api(m.url, 'POST', '/users', { token: admin, body: { username: 'alice', auth: 'ldap' } })).status, 201);
    // A membership the map does not name is the admins' to manage.
    await api(m.url, 'POST', '/groups/staff/members', { token: admin, body: { username: 'alice' } });
    const groupsOf = async (username: string) => (await api<User>(m.url, 'GET', `/users/${username}`, { token: admin })).body.groups;
    t.deepEqual(await groupsOf('alice'), ['staff']);

    t.is((await login(m.url, 'alice', 'alice-pw')).status, 200);
    t.deepEqual(await groupsOf('alice'), ['research/ml', 'staff'], 'in ml-researchers: a member of research/ml');
    t.is((await login(m.url, 'alice', 'alice-pw')).status, 200);
    t.deepEqual(await groupsOf('alice'), ['research/ml', 'staff'], 'a second login changes nothing');

    await own.modify('dn: cn=ml-researchers,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: memberUid\nmemberUid: alice\n');
    t.is((await login(m.url, 'alice', 'alice-pw')).status, 200);
    t.deepEqual(await groupsOf('alice'), ['staff'], 'out of ml-researchers: out of research/ml; staff stays');

    // The audit log names the sync as the actor of each change it made, and nothing else as its doing.
    const audit = (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?user=alice', { token: admin })).body.items;
    const bySync = audit.filter((e) => e.actor === '(ldap group sync)').map((e) => [e.action, e.details.group]);
    t.deepEqual(bySync, [
      ['group.member.remove', 'research/ml'],
      ['group.member.add', 'research/ml'],
    ]);
    t.like(audit.find((e) => e.action === 'group.member.add' && e.details.group === 'staff'), { actor: 'admin' });
  });

  test('a deactivated LDAP user cannot log in with the right password: told the account is not active; a wrong password gets the generic answer', async (t) => {
    const m = await master(t, { auth: { ldap: ldapConfig(shared) } });
    const admin = await loginToken(m.url, 'admin');
    t.is((await api(m.url, 'POST', '/users', { token: admin, body: { username: 'carol', auth: 'ldap' } })).status, 201);
    t.is((await login(m.url, 'carol', 'carol-pw')).status, 200);
    t.is((await api(m.url, 'PATCH', '/users/carol', { token: admin, body: { active: false } })).status, 200);
    const refused = await login(m.url, 'carol', 'carol-pw');
    t.is(refused.status, 403);
    t.is(refused.body.error.code, 'USER_INACTIVE');
    const wrong = await login(m.url, 'carol', 'nope');
    t.is(wrong.status, 401);
    t.deepEqual(wrong.body, { error: { code: 'INVALID_CREDENTIALS', message: 'invalid username or password' } });
  });

  test('throttling counts failures of every backend: per user for an LDAP user, per address across LDAP, file and internal users', async (t) => {
    const dir = tempDir('yard-ldap-');
    const passwords = path.join(dir, 'htpasswd');
    writeFileSync(passwords, `fred:{SHA}${createHash('sha1').update('fred-pw').digest('base64')}\n`);
    const m = await master(t, {
      auth: { ldap: ldapConfig(shared), file: { path: passwords } },
      security: { login_throttle: { max_failures_per_user: 3, max_failures_per_address: 6 } },
    });
    const admin = await loginToken(m.url, 'admin');
    await api(m.url, 'POST', '/users', { token: admin, body: { username: 'dave', auth: 'ldap' } });
    await api(m.url, 'POST', '/users', { token: admin, body: { username: 'fred', auth: 'file' } });
    t.is((await login(m.url, 'fred', 'fred-pw')).status, 200, 'the {SHA} line works');

    for (let i = 0; i < 3; i++) t.is((await login(m.url, 'dave', 'wrong')).status, 401);
    const blocked = await login(m.url, 'dave', 'dave-pw');
    t.is(blocked.status, 429, 'even the right directory password waits');
    t.truthy(blocked.headers.get('retry-after'));

    // The address has 3 failures (dave's three: the blocked try counted against nothing); file and internal failures use up the rest.
    t.is((await login(m.url, 'fred', 'wrong')).status, 401);
    t.is((await login(m.url, 'yard', 'wrong')).status, 401);
    t.is((await login(m.url, 'admin', 'wrong')).status, 401);
    const byAddress = await login(m.url, 'fred', 'fred-pw');
    t.is(byAddress.status, 429);
    t.is(byAddress.body.error.code, 'TOO_MANY_REQUESTS');
  });

  test('slapd down: LDAP users get AUTH_BACKEND_UNAVAILABLE (not counted as failures), internal users still log in', async (t) => {
    const own = await startSlapd(LDIF);
    t.teardown(() => own.destroy());
    const m = await master(t, {
      auth: { ldap: ldapConfig(own), auto_provision: { backend: 'ldap' } },
      security: { login_throttle: { max_failures_per_user: 2 } },
    });
    t.is((await login(m.url, 'dave', 'dave-pw')).status, 200, 'provisioned while the directory answers');

    await own.stop();
    for (let i = 0; i < 3; i++) {
      const down = await login(m.url, 'dave', 'dave-pw');
      t.is(down.status, 503);
      t.deepEqual(down.body, {
        error: { code: 'AUTH_BACKEND_UNAVAILABLE', message: 'the LDAP directory does not answer: try again later, or tell an admin' },
      });
    }
    t.is((await login(m.url, 'dave', 'wrong')).status, 503, 'a wrong password cannot be told apart while the directory is down');
    const cli = await new Terminal(m.url).run(['user', 'login', 'dave', '--password-stdin'], { input: 'dave-pw\n' });
    t.is(cli.code, 1);
    t.is(cli.stderr.trim(), 'Error: the LDAP directory does not answer: try again later, or tell an admin');
    t.is((await login(m.url, 'admin', '')).status, 200, 'internal users are not affected');
    t.is((await login(m.url, 'yard', '')).status, 200);

    await own.start();
    t.is((await login(m.url, 'dave', 'dave-pw')).status, 200, 'the outage counted as no failures of dave');
    t.is((await login(m.url, 'dave', 'wrong')).status, 401);
  });

  test("the service account's password: a missing one stops the master at start; one the directory refuses is an outage, never a way in", async (t) => {
    delete process.env.YARD_TEST_LDAP_WRONG;
    const config = { auth: { ldap: { ...ldapConfig(shared), bind_password_env: 'YARD_TEST_LDAP_WRONG' } } };
    const missingSecret = await startTestMaster(config).catch((error: Error) => error);
    t.true(missingSecret instanceof Error && /YARD_TEST_LDAP_WRONG is not set/.test(missingSecret.message), String(missingSecret));

    process.env.YARD_TEST_LDAP_WRONG = 'not-the-service-password';
    const m = await master(t, config);
    const admin = await loginToken(m.url, 'admin');
    await api(m.url, 'POST', '/users', { token: admin, body: { username: 'bob', auth: 'ldap' } });
    const answer = await login(m.url, 'bob', 'bob-pw');
    t.is(answer.status, 503);
    t.is(answer.body.error.message, "the LDAP directory refused the master's service account: tell an admin (auth.ldap.bind_dn)");
    t.false(readFileSync(m.logFile, 'utf8').includes('not-the-service-password'), 'the secret stays out of the log');
  });

  test('StartTLS and ldaps:// trust the CA in ca_file, and only it: another CA is an outage, never a way in', async (t) => {
    const dir = tempDir('yard-ldap-tls-');
    const good = makeCertificates(dir, 'good');
    const other = makeCertificates(dir, 'other');
    const tls = await startSlapd(LDIF, { tls: good });
    t.teardown(() => tls.destroy());
    const verify = (ldap: Record<string, unknown>) =>
      createLdapBackend(parseConfig({ auth: { ldap: { ...ldapConfig(tls), ...ldap } } }).auth.ldap!, pino({ level: 'silent' })).verify({
        username: 'bob',
        password: 'bob-pw',
      });
    t.is((await verify({ starttls: true, ca_file: good.caFile })).outcome, 'ok', 'StartTLS');
    t.is((await verify({ url: tls.ldapsUrl, ca_file: good.caFile })).outcome, 'ok', 'ldaps://');
    for (const ldap of [{ starttls: true, ca_file: other.caFile }, { url: tls.ldapsUrl, ca_file: other.caFile }, { url: tls.ldapsUrl }]) {
      const verdict = await verify(ldap);
      t.like(verdict, { outcome: 'unavailable', reason: "the LDAP directory's certificate is not trusted: tell an admin (auth.ldap.ca_file)" }, JSON.stringify(ldap));
    }
  });
}
