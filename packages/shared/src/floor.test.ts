import test from 'ava';
import { capabilityViolation, checkFloor, FLOOR_CONFINEMENT, hostPathViolation, isWithin, normalizePath, type FloorContext } from './floor.js';

const rulesFor = (hostPath: string, containerPath = '/data', context: FloorContext = {}) =>
  checkFloor({ bindMounts: [{ hostPath, containerPath }] }, context).map((v) => v.rule);

test('paths are normalised lexically: //, ., .. and a trailing / change nothing', (t) => {
  t.is(normalizePath('/scratch//alice/'), '/scratch/alice');
  t.is(normalizePath('/scratch/./alice/../bob'), '/scratch/bob');
  t.is(normalizePath('/../..'), '/');
  t.is(normalizePath('//'), '/');
  t.is(normalizePath('relative/path'), undefined);
  t.is(normalizePath('/with\0nul'), undefined);
  t.true(isWithin('/scratch/alice/x', '/scratch/alice'));
  t.true(isWithin('/scratch/alice', '/scratch/alice'));
  t.false(isWithin('/scratch/alice2', '/scratch/alice'), 'a sibling with the same prefix is not beneath');
  t.true(isWithin('/anything', '/'));
});

test('the host root, in any spelling, is refused', (t) => {
  for (const path of ['/', '//', '/./', '/tmp/..', '/tmp/../../']) t.deepEqual(rulesFor(path), ['floor.host_root'], path);
});

test('/proc, /sys, /dev and /boot, and anything beneath them, are refused', (t) => {
  for (const path of ['/proc', '/proc/1/root', '/sys/fs/cgroup', '/dev', '/dev/sda', '/boot/', '/tmp/../proc']) {
    t.deepEqual(rulesFor(path), ['floor.system_path'], path);
  }
  t.deepEqual(rulesFor('/procfs'), [], 'only the directory itself and what lies beneath');
});

test('the engine socket and every directory above it are refused', (t) => {
  for (const path of ['/var/run/docker.sock', '/run/docker.sock', '/var/run', '/run', '/var', '/run/containerd', '/run/podman/']) {
    t.deepEqual(rulesFor(path), ['floor.engine_socket'], path);
  }
  t.deepEqual(rulesFor('/srv/engine/api.sock', '/data', { engineSockets: ['/srv/engine/api.sock'] }), ['floor.engine_socket'], 'the socket the agent talks to');
  t.deepEqual(rulesFor('/srv/engine', '/data', { engineSockets: ['/srv/engine/api.sock'] }), ['floor.engine_socket']);
  t.deepEqual(rulesFor('/srv/other'), []);
});

test("the engine's state, what lies in it and what holds it are refused", (t) => {
  for (const path of ['/var/lib/docker', '/var/lib/docker/volumes/x/_data', '/var/lib/containerd', '/var/lib/containers/storage', '/var/lib']) {
    t.deepEqual(rulesFor(path), ['floor.engine_state'], path);
  }
  t.deepEqual(rulesFor('/var/lib/postgresql'), []);
});

test("the agent's own directory, what lies in it and what holds it are refused", (t) => {
  const context = { agentDirs: ['/srv/trainyard/agent'] };
  for (const path of ['/srv/trainyard/agent', '/srv/trainyard/agent/identity/7/passwd', '/srv/trainyard', '/srv']) {
    t.deepEqual(rulesFor(path, '/data', context), ['floor.agent_state'], path);
  }
  t.deepEqual(rulesFor('/srv/datasets', '/data', context), []);
  t.is(hostPathViolation('/srv/trainyard', context)?.message.includes('/srv/trainyard/agent'), true, 'the message names the directory');
});

test('container paths that cover the identity files, or the runtime\'s own, are refused', (t) => {
  for (const path of ['/', '/etc', '/etc/', '/etc/passwd', '/etc/group', '//etc', '/tmp/../etc']) {
    t.deepEqual(rulesFor('/scratch/alice', path), ['floor.identity_files'], path);
  }
  for (const path of ['/proc', '/sys/kernel', '/dev/shm']) t.deepEqual(rulesFor('/scratch/alice', path), ['floor.system_path'], path);
  for (const path of ['/etc/ssl', '/etcetera', '/data', '/home/alice']) t.deepEqual(rulesFor('/scratch/alice', path), [], path);
});

test('ordinary host directories pass', (t) => {
  for (const path of ['/scratch/alice', '/datasets/imagenet', '/home/alice/work', '/tmp/x', '/etc', '/root']) {
    t.deepEqual(rulesFor(path), [], `${path}: the policy, not the floor, decides`);
  }
});

test('capabilities: only those a policy may admit; never the escape-grade ones, in any spelling, nor unknown names', (t) => {
  const rules = (capabilities: string[]) =>
    checkFloor({ bindMounts: [], confinement: { ...FLOOR_CONFINEMENT, capabilities } }).map((v) => v.rule);
  t.deepEqual(rules(['NET_BIND_SERVICE', 'CHOWN', 'SYS_NICE']), []);
  for (const cap of ['SYS_ADMIN', 'cap_sys_admin', 'CAP_SYS_MODULE', 'DAC_READ_SEARCH', 'BPF', 'NET_ADMIN', 'ALL', 'all']) {
    t.deepEqual(rules([cap]), ['floor.capability'], cap);
  }
  t.deepEqual(rules(['MAKE_ME_ROOT']), ['floor.capability'], 'not a capability at all');
  t.regex(capabilityViolation('SYS_PTRACE')!.message, /capability SYS_PTRACE refused by floor\.capability: .*no policy can allow it/);
});

test('GPUs: never more than the machine has, where the agent knows its count', (t) => {
  t.deepEqual(checkFloor({ bindMounts: [], resources: { gpus: 2 } }, { gpuCount: 2 }), []);
  t.deepEqual(checkFloor({ bindMounts: [], resources: { gpus: 3 } }, { gpuCount: 2 }).map((v) => v.rule), ['floor.device']);
  t.deepEqual(checkFloor({ bindMounts: [], resources: { gpus: 3 } }), [], 'the master does not know the machines');
});

test('confinement: only every capability dropped, no privileges, no host namespaces or devices', (t) => {
  t.deepEqual(checkFloor({ bindMounts: [], confinement: { ...FLOOR_CONFINEMENT } }), []);
  const loose = checkFloor({
    bindMounts: [],
    confinement: { capabilities: ['SYS_ADMIN'], privileged: true, noNewPrivileges: false, hostNamespaces: ['network', 'pid'], devices: ['/dev/kvm'] },
  });
  t.deepEqual(loose.map((v) => v.rule).sort(), ['floor.capability', 'floor.device', 'floor.host_namespace', 'floor.no_new_privileges', 'floor.privileged']);
  t.regex(loose.find((v) => v.rule === 'floor.capability')!.message, /SYS_ADMIN/);
});

test('every violation is reported, each with its rule in the message', (t) => {
  const violations = checkFloor({
    bindMounts: [
      { hostPath: '/', containerPath: '/etc' },
      { hostPath: '/var/run/docker.sock', containerPath: '/var/run/docker.sock' },
    ],
  });
  t.deepEqual(violations.map((v) => v.rule), ['floor.host_root', 'floor.identity_files', 'floor.engine_socket']);
  for (const v of violations) t.true(v.message.includes(v.rule), v.message);
});

test('a mount must lie in the directory it was admitted under', (t) => {
  const rules = (hostPath: string, allowedRoot: string) =>
    checkFloor({ bindMounts: [{ hostPath, containerPath: '/data', allowedRoot }] }).map((v) => v.rule);
  t.deepEqual(rules('/scratch/alice/run1', '/scratch/alice'), []);
  t.deepEqual(rules('/scratch/alice', '/scratch/alice/'), []);
  t.deepEqual(rules('/scratch/bob', '/scratch/alice'), ['floor.allowed_root']);
  t.deepEqual(rules('/scratch/alice/../bob', '/scratch/alice'), ['floor.allowed_root']);
  t.deepEqual(rules('/scratch/alice2', '/scratch/alice'), ['floor.allowed_root']);
});

test("the agent's shared root, what lies in it and what holds it are refused: groups' shared directories come only through admission", (t) => {
  const context: FloorContext = { sharedRoots: ['/shared'] };
  for (const path of ['/shared', '/shared/research/vision', '/shared/research/../x', '/']) {
    const rules = rulesFor(path, '/data', context);
    t.true(rules.includes(path === '/' ? 'floor.host_root' : 'floor.shared_root'), `${path}: ${rules.join(',')}`);
  }
  t.deepEqual(rulesFor('/srv', '/data', { sharedRoots: ['/srv/shared'] }), ['floor.shared_root'], 'a directory holding it');
  t.deepEqual(rulesFor('/sharedx', '/data', context), [], 'a sibling with the same prefix is not beneath');
  t.deepEqual(rulesFor('/shared', '/data'), [], 'an agent without --shared-root has none');
});
