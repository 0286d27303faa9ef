import test from 'ava';
import type { BindMountRequest } from '@trainyard/shared';
import { admitMounts, expandPattern, type MountSubject } from './mount-policy.js';
import { policySchema, type MountRule } from './policy-schema.js';

const alice: MountSubject = { username: 'alice', runAs: { uid: 1234, user: 'alice', gid: 1500, group: 'ml' } };
const rules: MountRule[] = policySchema.parse({
  system: {
    mounts: {
      available: [
        { host_path: '/scratch/{user}' },
        { host_path: '/datasets/imagenet', container_path: '/data/imagenet', read_only: true },
        { host_path: '/home/{uid}-{gid}/' },
      ],
    },
  },
}).system.mounts.available;

const mount = (host_path: string, container_path = '/work', read_only = false): BindMountRequest => ({ host_path, container_path, read_only });

function denied(t: import('ava').ExecutionContext, requests: BindMountRequest[], subject = alice) {
  const error = t.throws(() => admitMounts(requests, rules, subject)) as { code?: string; message: string; extra?: { details?: unknown } };
  t.is(error.code, 'POLICY_DENIED');
  return { message: error.message, details: error.extra?.details as { rule: string; layer: string } };
}

test('placeholders are the owner\'s name and the run-as ids', (t) => {
  t.is(expandPattern('/scratch/{user}', alice), '/scratch/alice');
  t.is(expandPattern('/home/{uid}-{gid}/', alice), '/home/1234-1500');
});

test('a path equal to an expanded pattern, or beneath it, is admitted with its root', (t) => {
  const [own, below] = admitMounts([mount('/scratch/alice'), mount('/scratch//alice/run-1/', '/out')], rules, alice);
  t.deepEqual(own, { host_path: '/scratch/alice', container_path: '/work', read_only: false, allowed_root: '/scratch/alice' });
  t.deepEqual(below, { host_path: '/scratch/alice/run-1', container_path: '/out', read_only: false, allowed_root: '/scratch/alice' });
  t.is(admitMounts([mount('/home/1234-1500/x')], rules, alice)[0]!.allowed_root, '/home/1234-1500');
});

test("another user's directory, a sibling with the same prefix and .. out of one's own are refused", (t) => {
  for (const path of ['/scratch/bob', '/scratch/alice2', '/scratch/alice/../bob', '/scratch']) {
    const { message, details } = denied(t, [mount(path)]);
    t.is(message, `mount of ${path} refused: not in policy.system.mounts.available (an admin lists the host directories tasks may mount in master.yaml)`);
    t.deepEqual(details, { rule: 'policy.system.mounts.available', layer: 'system' });
  }
});

test('a fixed container path is kept, with what lies beneath; read_only is forced', (t) => {
  const [whole, part] = admitMounts([mount('/datasets/imagenet', '/data/imagenet'), mount('/datasets/imagenet/train', '/data/imagenet/train')], rules, alice);
  t.deepEqual(whole, { host_path: '/datasets/imagenet', container_path: '/data/imagenet', read_only: true, allowed_root: '/datasets/imagenet' });
  t.is(part!.read_only, true);
  const { message, details } = denied(t, [mount('/datasets/imagenet', '/elsewhere')]);
  t.regex(message, /mount of \/datasets\/imagenet at \/elsewhere refused: policy\.system\.mounts\.available mounts it only at \/data\/imagenet/);
  t.deepEqual(details, { rule: 'policy.system.mounts.available', layer: 'system' });
});

test('the floor refuses first, naming its rule, whatever the policy allows', (t) => {
  const wide: MountRule[] = [{ host_path: '/scratch/{user}', read_only: false }];
  const { message, details } = denied(t, [mount('/scratch/alice', '/etc')]);
  t.regex(message, /floor\.identity_files/);
  t.deepEqual(details, { rule: 'floor.identity_files', layer: 'floor' });
  t.throws(() => admitMounts([mount('/', '/host')], wide, alice), { message: /refused by floor\.host_root/ });
  t.throws(() => admitMounts([mount('/proc', '/p')], wide, alice), { message: /refused by floor\.system_path/ });
  t.throws(() => admitMounts([mount('/var/run/docker.sock', '/s')], wide, alice), { message: /refused by floor\.engine_socket/ });
});

test('two mounts at one place are refused', (t) => {
  t.throws(() => admitMounts([mount('/scratch/alice/a', '/w'), mount('/scratch/alice/b', '/w/')], rules, alice), { message: /two mounts at \/w/ });
});

test('the policy itself is checked at start: placeholders, absolute paths, and the floor', (t) => {
  const problems = (rule: Record<string, unknown>) =>
    policySchema.safeParse({ system: { mounts: { available: [rule] } } }).error!.issues.map((i) => i.message).join('; ');
  t.regex(problems({ host_path: '/scratch/{name}' }), /"\{name\}" is not a placeholder/);
  t.regex(problems({ host_path: 'scratch' }), /must be an absolute path/);
  t.regex(problems({ host_path: '/' }), /floor\.host_root/);
  t.regex(problems({ host_path: '/var/run' }), /floor\.engine_socket/);
  t.regex(problems({ host_path: '/x', container_path: '/etc' }), /floor\.identity_files/);
  t.deepEqual(policySchema.parse({}).system.mounts.available, [], 'the default: no host paths at all');
});
