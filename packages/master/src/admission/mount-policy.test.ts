import test from 'ava';
import type { BindMountRequest } from '@trainyard/shared';
import { admitMounts, expandPattern, type TemplateSubject } from './mount-policy.js';
import { Policy } from './policy.js';
import { policySchema } from './policy-schema.js';

const alice: TemplateSubject = { username: 'alice', runAs: { uid: 1234, gid: 1500 }, group: null };
const policy = (system: Record<string, unknown>) => new Policy(policySchema.parse({ system }), []).for({ username: 'alice', groups: [] });
const rules = policy({
  mounts: {
    available: [
      { host_path: '/scratch/{user}' },
      { host_path: '/datasets/imagenet', container_path: '/data/imagenet', read_only: true },
      { host_path: '/home/{uid}-{gid}/' },
      { host_path: '/projects/{group}' },
    ],
  },
});

const mount = (host_path: string, container_path = '/work', read_only = false): BindMountRequest => ({ host_path, container_path, read_only });
const admit = (requests: BindMountRequest[], effective = rules, subject = alice) => admitMounts(requests, effective, subject, { defaultMounts: true });

function denied(t: import('ava').ExecutionContext, requests: BindMountRequest[], subject = alice) {
  const error = t.throws(() => admit(requests, rules, subject)) as { code?: string; message: string; extra?: { details?: unknown } };
  t.is(error.code, 'POLICY_DENIED');
  return { message: error.message, details: error.extra?.details as { rule: string; layer: string } };
}

test("placeholders are the owner's name, the run-as ids and the task's group; {group} never matches a task in no group", (t) => {
  t.is(expandPattern('/scratch/{user}', alice), '/scratch/alice');
  t.is(expandPattern('/home/{uid}-{gid}/', alice), '/home/1234-1500');
  t.is(expandPattern('/projects/{group}', alice), undefined);
  t.is(expandPattern('/projects/{group}', { ...alice, group: 'research/vision' }), '/projects/research/vision');
  t.is(admit([mount('/projects/research/vision/x')], rules, { ...alice, group: 'research/vision' })[0]!.allowedRoot, '/projects/research/vision');
  t.throws(() => admit([mount('/projects/x')]), { message: /not in policy\.system\.mounts\.available/ });
});

test('a path equal to an expanded pattern, or beneath it, is admitted with its root and rule', (t) => {
  const [own, below] = admit([mount('/scratch/alice'), mount('/scratch//alice/run-1/', '/out')]);
  const rule = 'policy.system.mounts.available';
  t.deepEqual(own, { hostPath: '/scratch/alice', containerPath: '/work', readOnly: false, allowedRoot: '/scratch/alice', source: 'task', rule });
  t.deepEqual(below, { hostPath: '/scratch/alice/run-1', containerPath: '/out', readOnly: false, allowedRoot: '/scratch/alice', source: 'task', rule });
  t.is(admit([mount('/home/1234-1500/x')])[0]!.allowedRoot, '/home/1234-1500');
});

test("another user's directory, a sibling with the same prefix and .. out of one's own are refused", (t) => {
  for (const path of ['/scratch/bob', '/scratch/alice2', '/scratch/alice/../bob', '/scratch']) {
    const { message, details } = denied(t, [mount(path)]);
    t.is(message, `mount of ${path} refused: not in policy.system.mounts.available (an admin lists the host directories tasks may mount in master.yaml)`);
    t.deepEqual(details, { rule: 'policy.system.mounts.available', layer: 'system' });
  }
});

test('a fixed container path is kept, with what lies beneath; read_only is forced', (t) => {
  const [whole, part] = admit([mount('/datasets/imagenet', '/data/imagenet'), mount('/datasets/imagenet/train', '/data/imagenet/train')]);
  t.like(whole, { hostPath: '/datasets/imagenet', containerPath: '/data/imagenet', readOnly: true, allowedRoot: '/datasets/imagenet' });
  t.is(part!.readOnly, true);
  const { message, details } = denied(t, [mount('/datasets/imagenet', '/elsewhere')]);
  t.regex(message, /mount of \/datasets\/imagenet at \/elsewhere refused: policy\.system\.mounts\.available mounts it only at \/data\/imagenet/);
  t.deepEqual(details, { rule: 'policy.system.mounts.available', layer: 'system' });
});

test('the floor refuses first, naming its rule, whatever the policy allows', (t) => {
  const { message, details } = denied(t, [mount('/scratch/alice', '/etc')]);
  t.regex(message, /floor\.identity_files/);
  t.deepEqual(details, { rule: 'floor.identity_files', layer: 'floor' });
  t.throws(() => admit([mount('/', '/host')]), { message: /refused by floor\.host_root/ });
  t.throws(() => admit([mount('/proc', '/p')]), { message: /refused by floor\.system_path/ });
  t.throws(() => admit([mount('/var/run/docker.sock', '/s')]), { message: /refused by floor\.engine_socket/ });
});

test('mounts.always and mounts.default come first, filled in; an opted-out task keeps only the always ones', (t) => {
  const added = policy({
    mounts: {
      always: [{ host_path: '/etc-free/{user}', container_path: '/always' }],
      default: [{ host_path: '/home/{user}', container_path: '/home/me', read_only: true }],
    },
  });
  const withDefaults = admitMounts([], added, alice, { defaultMounts: true });
  t.deepEqual(
    withDefaults.map((m) => [m.hostPath, m.containerPath, m.readOnly, m.source, m.rule]),
    [
      ['/etc-free/alice', '/always', false, 'always', 'policy.system.mounts.always'],
      ['/home/alice', '/home/me', true, 'default', 'policy.system.mounts.default'],
    ],
  );
  t.deepEqual(admitMounts([], added, alice, { defaultMounts: false }).map((m) => m.source), ['always']);
  const clash = policy({ mounts: { always: [{ host_path: '/x', container_path: '/always' }], available: [{ host_path: '/home/{user}' }] } });
  t.throws(() => admitMounts([mount('/home/alice', '/always')], clash, alice, { defaultMounts: true }), {
    message: /two mounts at \/always \(policy\.system\.mounts\.always mounts \/x there\)/,
  });
});

test('two mounts at one place are refused', (t) => {
  t.throws(() => admit([mount('/scratch/alice/a', '/w'), mount('/scratch/alice/b', '/w/')]), { message: /two mounts at \/w/ });
});

test('the policy itself is checked at start: placeholders, absolute paths, and the floor', (t) => {
  const problems = (rule: Record<string, unknown>) =>
    policySchema.safeParse({ system: { mounts: { available: [rule] } } }).error!.issues.map((i) => i.message).join('; ');
  t.regex(problems({ host_path: '/scratch/{name}' }), /"\{name\}" is not a placeholder/);
  t.regex(problems({ host_path: 'scratch' }), /must be an absolute path/);
  t.regex(problems({ host_path: '/' }), /floor\.host_root/);
  t.regex(problems({ host_path: '/var/run' }), /floor\.engine_socket/);
  t.regex(problems({ host_path: '/x', container_path: '/etc' }), /floor\.identity_files/);
  t.is(policySchema.parse({}).system.mounts, undefined, 'no layer sets it: the built-in default (no host paths at all)');
  t.deepEqual(new Policy(policySchema.parse({}), []).for({ groups: [] }).get('mounts.available').value, []);
});
