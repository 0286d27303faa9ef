import test from 'ava';
import { hoistGlobalFlags, splitAtDoubleDash, trailingArgs } from './argv.js';

test('global flags before the command move after it', (t) => {
  t.deepEqual(hoistGlobalFlags(['-u', 'admin', 'user', 'list']), ['user', 'list', '-u', 'admin']);
  t.deepEqual(hoistGlobalFlags(['--user=admin', '--json', 'user', 'list']), ['user', 'list', '-u', 'admin', '--json']);
  t.deepEqual(hoistGlobalFlags(['--user', 'admin', 'role', 'assign', 'op', '--user', 'carol']), ['role', 'assign', 'op', '--user', 'carol', '-u', 'admin']);
  t.deepEqual(hoistGlobalFlags(['-uadmin', '-m', 'http://x:1', 'user', 'whoami']), ['user', 'whoami', '-uadmin', '-m', 'http://x:1']);
  t.deepEqual(hoistGlobalFlags(['--request-timeout', '5s', 'task', 'list']), ['task', 'list', '--request-timeout', '5s']);
  t.deepEqual(hoistGlobalFlags(['--request-timeout=0', 'task', 'wait', '3']), ['task', 'wait', '3', '--request-timeout=0']);
});

test('flags stay before a `--` so the command after it is untouched', (t) => {
  t.deepEqual(hoistGlobalFlags(['-u', 'bob', 'command', 'run', '--', 'sh', '-u', 'x']), [
    'command',
    'run',
    '-u',
    'bob',
    '--',
    'sh',
    '-u',
    'x',
  ]);
});

test('argv without leading global flags is left alone', (t) => {
  const argv = ['user', 'list', '-u', 'admin'];
  t.is(hoistGlobalFlags(argv), argv);
});

test('everything after `--` is kept away from flag parsing', (t) => {
  t.deepEqual(splitAtDoubleDash(['command', 'run', '-c', 'x.yaml', '--', 'sh', '-c', 'echo', '--json']), ['command', 'run', '-c', 'x.yaml']);
  t.deepEqual(trailingArgs(), ['sh', '-c', 'echo', '--json']);
});
