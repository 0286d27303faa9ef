import test from 'ava';
import { normalizeImage } from '@trainyard/shared';
import type { Actor } from '../authz/actor.js';
import { Policy } from './policy.js';
import { policySchema } from './policy-schema.js';
import { admitCapabilities, admitEnvironment, admitPort, admitResources } from './rules.js';

const compile = (config: unknown) => new Policy(policySchema.parse(config), [8888, 6006]);
const actor = (capabilities: string[] = []) => ({ username: 'alice', can: (c: string) => capabilities.includes(c) }) as unknown as Actor;
const subject = { username: 'alice', runAs: { uid: 1234, gid: 1500 }, group: 'research' };
const refusal = (fn: () => unknown) => {
  const error = (() => {
    try {
      fn();
    } catch (e) {
      return e as { code: string; message: string; extra?: { details?: unknown } };
    }
    throw new Error('not refused');
  })();
  return { code: error.code, message: error.message, details: error.extra?.details };
};

test('image references are normalised: a tag is added, Docker Hub spellings made short, a digest kept', (t) => {
  t.is(normalizeImage('busybox'), 'busybox:latest');
  t.is(normalizeImage('docker.io/library/busybox:1.36'), 'busybox:1.36');
  t.is(normalizeImage('index.docker.io/jupyter/base-notebook'), 'jupyter/base-notebook:latest');
  t.is(normalizeImage('localhost:5000/team/model'), 'localhost:5000/team/model:latest');
  t.is(normalizeImage('localhost:5000/team/model:2'), 'localhost:5000/team/model:2');
  t.is(normalizeImage(`busybox@sha256:${'a'.repeat(64)}`), `busybox@sha256:${'a'.repeat(64)}`);
});

test('layers: the user over the groups, the higher priority group over the lower, every group over the system', (t) => {
  const policy = compile({
    system: { resources: { max: { gpus: 1, cpu: 4 } }, require_non_root: true },
    groups: { a: { priority: 1, resources: { max: { gpus: 2 } } }, b: { priority: 2, resources: { max: { gpus: 3, cpu: null } } } },
    users: { alice: { resources: { max: { gpus: 4 } } } },
  });
  const rule = (username: string, groups: string[], name: 'resources.max.gpus' | 'resources.max.cpu' | 'require_non_root') => {
    const { value, layer } = policy.for({ username, groups }).get(name);
    return [value, layer];
  };
  t.deepEqual(rule('bob', [], 'resources.max.gpus'), [1, 'system']);
  t.deepEqual(rule('bob', ['a'], 'resources.max.gpus'), [2, 'groups.a']);
  t.deepEqual(rule('bob', ['a', 'b'], 'resources.max.gpus'), [3, 'groups.b']);
  t.deepEqual(rule('bob', ['b', 'a'], 'resources.max.gpus'), [3, 'groups.b'], 'priority, not the order of membership');
  t.deepEqual(rule('alice', ['a', 'b'], 'resources.max.gpus'), [4, 'users.alice']);
  t.deepEqual(rule('bob', ['a', 'b'], 'resources.max.cpu'), [null, 'groups.b'], 'null lifts a less specific limit');
  t.deepEqual(rule('alice', ['a', 'b'], 'require_non_root'), [true, 'system']);
  t.deepEqual(policy.view({ username: 'alice', groups: ['b', 'a'] }).layers, ['system', 'groups.a', 'groups.b', 'users.alice']);
});

test('the policy refuses what could never apply: unknown keys, equal priorities, escape-grade capabilities, bad patterns', (t) => {
  const problems = (config: unknown) => {
    const result = policySchema.safeParse(config);
    return result.success ? '' : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };
  t.regex(problems({ system: { images: { alow: [] } } }), /alow/);
  t.regex(problems({ groups: { a: { priority: 1 }, b: { priority: 1 } } }), /groups\.b\.priority: a has priority 1 too/);
  t.regex(problems({ users: { alice: { capabilities: { add: ['cap_sys_admin'] } } } }), /capability SYS_ADMIN refused by floor\.capability/);
  t.regex(problems({ system: { images: { allow: ['(unclosed'] } } }), /is not a regular expression/);
  t.regex(problems({ system: { ports: { allow: ['9000-8000'] } } }), /lower to a higher port/);
  t.regex(problems({ groups: { 'Not A Path': { priority: 1 } } }), /is not a group path/);
  t.is(problems({ system: { capabilities: { add: ['net_bind_service'] } } }), '');
});

test('cap_add: admitted only when the layer lists it, never past the floor', (t) => {
  const policy = compile({ system: { capabilities: { add: ['NET_BIND_SERVICE'] } } }).for({ groups: [] });
  t.deepEqual(admitCapabilities(['cap_net_bind_service', 'NET_BIND_SERVICE'], policy), ['NET_BIND_SERVICE']);
  t.like(refusal(() => admitCapabilities(['NET_RAW'], policy)), { code: 'POLICY_DENIED', details: { rule: 'policy.system.capabilities.add', layer: 'system' } });
  t.like(refusal(() => admitCapabilities(['SYS_ADMIN'], policy)), { details: { rule: 'floor.capability', layer: 'floor' } });
});

test('env.deny refuses exact names and globs (case-sensitive); env.set forces templated values', (t) => {
  const policy = compile({ system: { env: { deny: ['LD_*', 'SECRET'], set: { HOME: '/home/{user}', GROUP: '{group}', UID: '{uid}' } } } }).for({ groups: [] });
  t.like(refusal(() => admitEnvironment({ LD_PRELOAD: 'x' }, policy, subject)), { message: 'environment variable LD_PRELOAD refused by policy.system.env.deny (LD_*): tasks may not set it' });
  t.like(refusal(() => admitEnvironment({ SECRET: 'x' }, policy, subject)), { details: { rule: 'policy.system.env.deny', layer: 'system' } });
  t.deepEqual(admitEnvironment({ secret: 'fine', HOME: '/mine' }, policy, subject), { secret: 'fine', HOME: '/home/alice', GROUP: 'research', UID: '1234' });
  const defaults = compile({}).for({ groups: [] });
  t.like(refusal(() => admitEnvironment({ LD_PRELOAD: 'x' }, defaults, subject)), { details: { rule: 'policy.system.env.deny', layer: 'system' } });
});

test('resources: the default when none is asked; above it needs customize_resources; above max never', (t) => {
  const policy = compile({ system: { resources: { default: { gpus: 1, memory: '1Gi' }, max: { gpus: 2 } } } }).for({ groups: [] });
  t.deepEqual(admitResources({}, policy, actor()), { gpus: 1, memory: 1024 ** 3 });
  t.deepEqual(admitResources({ gpus: 0 }, policy, actor()), { gpus: 0, memory: 1024 ** 3 });
  t.like(refusal(() => admitResources({ gpus: 2 }, policy, actor())), { details: { rule: 'policy.system.resources.default.gpus', layer: 'system' } });
  t.regex(refusal(() => admitResources({ gpus: 2 }, policy, actor())).message, /needs customize_resources, which alice does not hold/);
  t.deepEqual(admitResources({ gpus: 2 }, policy, actor(['customize_resources'])), { gpus: 2, memory: 1024 ** 3 });
  t.like(refusal(() => admitResources({ gpus: 3 }, policy, actor(['customize_resources']))), { details: { rule: 'policy.system.resources.max.gpus', layer: 'system' } });
});

test('ports: by default the kinds\' own; a layer may open ranges', (t) => {
  t.deepEqual(admitPort(8888, compile({}).for({ groups: [] })), [{ container: 8888, name: 'http' }]);
  t.deepEqual(admitPort(undefined, compile({}).for({ groups: [] })), []);
  t.like(refusal(() => admitPort(8000, compile({}).for({ groups: [] }))), { details: { rule: 'policy.system.ports.allow', layer: 'system' } });
  t.deepEqual(admitPort(8500, compile({ system: { ports: { allow: ['8000-8999'] } } }).for({ groups: [] })), [{ container: 8500, name: 'http' }]);
});
