import test from 'ava';
import pino from 'pino';
import type { User } from '@trainyard/shared';
import { createPamBackend, loadPamBinding } from '../packages/master/src/auth/pam-backend.js';
import { api, loginToken } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { createPamService, pamMissing, type PamService } from './helpers/pam-service.js';
import { startTestMaster } from './helpers/test-master.js';

const login = (url: string, username: string, password: string) => api(url, 'POST', '/auth/login', { body: { username, password } });

test('without its native module the PAM backend is unavailable, says why, and lets nobody in', async (t) => {
  const backend = createPamBackend('trainyard', pino({ level: 'silent' }), () => loadPamBinding('node-linux-pam-not-installed'));
  const verdict = await backend.verify({ username: 'pat', password: 'pat-pw' });
  t.is(verdict.outcome, 'unavailable');
  t.regex(verdict.outcome === 'unavailable' ? verdict.reason : '', /^PAM support is not available on this master: its native module \(node-linux-pam\) is not installed/);
});

const missing = pamMissing();
if (missing) {
  console.error(`\n!!! NO PAM TEST SERVICE: the PAM login tests are NOT running (${missing}). \`npm test\` sets them up where it can (scripts/auth-servers.sh).\n`);
  test.skip('PAM login tests (no PAM test service)', () => {});
} else {
  registerTests();
}

function registerTests() {
  let pam: PamService;
  test.before(() => {
    pam = createPamService();
    pam.setPassword('pat', 'pat-pw');
    pam.setPassword('lou', 'lou-pw');
    pam.setPassword('quinn', 'quinn-pw');
  });
  test.after.always(() => pam?.remove());

  test('a PAM user logs in through the service; a wrong password, an unknown name and a cut-short password fail alike', async (t) => {
    const m = await startTestMaster({ auth: { pam: { service: pam.name } } });
    t.teardown(() => m.stop());
    const admin = new Terminal(m.url);
    const created = await admin.run(['-u', 'admin', 'user', 'create', 'pat', '--auth', 'pam'], { env: { YARD_PASSWORD: '' } });
    t.is(created.code, 0, created.stderr);

    const pat = new Terminal(m.url);
    const ok = await pat.run(['user', 'login', 'pat', '--password-stdin'], { input: 'pat-pw\n' });
    t.is(ok.code, 0, ok.stderr);
    t.is((await pat.run(['user', 'whoami'])).stdout.trim(), 'pat');

    const unknown = await login(m.url, 'nobody', 'x');
    t.is(unknown.status, 401);
    // PAM reads C strings: "pat-pw\0..." would reach it as "pat-pw" and pass.
    for (const password of ['wrong', '', 'pat-pw\u0000junk']) {
      const refused = await login(m.url, 'pat', password);
      t.is(refused.status, 401, JSON.stringify(password));
      t.deepEqual(refused.body, unknown.body);
    }

    const change = await pat.run(['user', 'change-password', '--password-stdin'], { input: 'new-pw\n' });
    t.is(change.code, 1);
    t.is(change.stderr.trim(), `Error: pat's password lives in PAM on the master's host (service '${pam.name}'), e.g. with passwd: change it there (Trainyard keeps no password for this user)`);
  });

  test("PAM's account check runs: a locked account fails with the right password until it is unlocked", async (t) => {
    const m = await startTestMaster({ auth: { pam: { service: pam.name } } });
    t.teardown(() => m.stop());
    const admin = await loginToken(m.url, 'admin');
    t.is((await api(m.url, 'POST', '/users', { token: admin, body: { username: 'lou', auth: 'pam' } })).status, 201);
    t.is((await login(m.url, 'lou', 'lou-pw')).status, 200, 'the password is right');

    pam.lockAccounts(['lou']);
    t.teardown(() => pam.lockAccounts([]));
    const locked = await login(m.url, 'lou', 'lou-pw');
    t.is(locked.status, 401, 'pam_acct_mgmt refuses the account');
    t.deepEqual(locked.body, { error: { code: 'INVALID_CREDENTIALS', message: 'invalid username or password' } });

    pam.lockAccounts([]);
    t.is((await login(m.url, 'lou', 'lou-pw')).status, 200);
  });

  test('auto-provisioning through PAM creates a plain user without a link', async (t) => {
    const m = await startTestMaster({ auth: { pam: { service: pam.name }, auto_provision: { backend: 'pam' } } });
    t.teardown(() => m.stop());
    t.is((await login(m.url, 'quinn', 'wrong')).status, 401);
    t.is((await login(m.url, 'quinn', 'quinn-pw')).status, 200);
    const admin = await loginToken(m.url, 'admin');
    t.like((await api<User>(m.url, 'GET', '/users/quinn', { token: admin })).body, { auth: 'pam', admin: false, active: true, agentUser: null });
  });
}
