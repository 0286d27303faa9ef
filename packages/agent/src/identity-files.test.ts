import test from 'ava';
import { withIdentity } from './identity-files.js';

test('adds the task identity and replaces entries that clash by name or id', (t) => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\nubuntu:x:1234:1234::/home/ubuntu:/bin/bash\nalice:x:999:999::/h:/bin/sh\n';
  const group = 'root:x:0:\nubuntu:x:1234:\n';
  const out = withIdentity(passwd, group, { uid: 1234, user: 'alice', gid: 1234, group: 'alice' }, '/tmp/w');
  t.deepEqual(out.passwd.trim().split('\n'), ['root:x:0:0:root:/root:/bin/sh', 'alice:x:1234:1234:alice:/tmp/w:/bin/sh']);
  t.deepEqual(out.group.trim().split('\n'), ['root:x:0:', 'alice:x:1234:alice']);
});

test('works on an image without passwd or group files', (t) => {
  const out = withIdentity('', '', { uid: 5, user: 'bob', gid: 6, group: 'staff' }, '/');
  t.is(out.passwd, 'bob:x:5:6:bob:/:/bin/sh\n');
  t.is(out.group, 'staff:x:6:bob\n');
});

test('supplementary groups are named, with the user as a member', (t) => {
  const out = withIdentity('', 'video:x:44:\nml:x:3000:\n', { uid: 5, user: 'bob', gid: 6, group: 'staff', supplementaryGroups: [{ gid: 3000, name: 'research' }] }, '/');
  t.deepEqual(out.group.trim().split('\n'), ['video:x:44:', 'staff:x:6:bob', 'research:x:3000:bob']);
});
