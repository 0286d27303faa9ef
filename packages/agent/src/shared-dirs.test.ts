import { chmodSync, chownSync, mkdirSync, mkdtempSync, statSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { sharedDirMounts } from './shared-dirs.js';

// Needs root (chown): the agent runs as root wherever tasks run as other uids.
const asRoot = process.getuid?.() === 0 ? test : test.skip;
const dir = (group: string, gid = 5001) => ({ group, gid, containerPath: `/shared/${group}` });

test('an agent without --shared-root fails a task that needs a shared directory, saying so', (t) => {
  const result = sharedDirMounts(undefined, [dir('research/vision')]);
  t.true('refused' in result && /no --shared-root/.test(result.refused));
  t.deepEqual(sharedDirMounts(undefined, []), { mounts: [] });
});

asRoot('a missing directory is made root:<gid> 2770 (parents root 0755) and mounted at /shared/<group>', (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'yard-shared-'));
  const result = sharedDirMounts(root, [dir('research/vision')]);
  if (!('mounts' in result)) return t.fail(result.refused);
  t.deepEqual(result.mounts, [
    { hostPath: path.join(root, 'research/vision'), containerPath: '/shared/research/vision', readOnly: false, allowedRoot: root, source: 'group_shared', rule: 'group.shared_dir' },
  ]);
  const made = statSync(path.join(root, 'research/vision'));
  t.is(made.uid, 0);
  t.is(made.gid, 5001);
  t.is(made.mode & 0o7777, 0o2770);
  t.is(statSync(path.join(root, 'research')).mode & 0o7777, 0o755);
  // A wrong mode on root's directory is set right; the next task finds it as it was made.
  chmodSync(path.join(root, 'research/vision'), 0o777);
  t.true('mounts' in sharedDirMounts(root, [dir('research/vision')]));
  t.is(statSync(path.join(root, 'research/vision')).mode & 0o7777, 0o2770);
});

asRoot('a link, a file or a directory owned by someone else is refused, never followed or taken over', (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'yard-shared-'));
  symlinkSync('/etc', path.join(root, 'linked'));
  mkdirSync(path.join(root, 'owned'));
  chownSync(path.join(root, 'owned'), 1234, 5001);
  mkdirSync(path.join(root, 'parent'));
  symlinkSync('/etc', path.join(root, 'parent', 'child'));
  for (const [group, why] of [
    ['linked', /not a directory \(a link is never followed here\)/],
    ['owned', /belongs to 1234:5001, not root:5001/],
    ['parent/child', /not a directory/],
  ] as const) {
    const result = sharedDirMounts(root, [dir(group)]);
    t.true('refused' in result && why.test(result.refused), `${group}: ${JSON.stringify(result)}`);
  }
  t.is(statSync(path.join(root, 'owned')).uid, 1234, 'left as it was');
});

test('a group name that could walk out of the root, or a container path elsewhere, is refused', (t) => {
  for (const bad of [dir('../etc'), dir('a/../../b'), dir('ok', 0), { group: 'ok', gid: 5001, containerPath: '/etc' }]) {
    t.true('refused' in sharedDirMounts('/tmp', [bad]), JSON.stringify(bad));
  }
});
