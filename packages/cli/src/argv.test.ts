import test from 'ava';
import { expandShortForms, hoistGlobalFlags, splitAtDoubleDash, trailingArgs } from './argv.js';

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

const IDS = ['experiment:list', 'experiment:logs', 'experiment:kill', 'task:list', 'task:delete', 'task:logs', 'command:run', 'agent:token:list', 'user:whoami', 'help'];

test('short forms are spelled out where they name a topic or command, and nowhere else', (t) => {
  t.deepEqual(expandShortForms(['e', 'ls', '-a'], IDS), ['experiment', 'list', '-a']);
  t.deepEqual(expandShortForms(['t', 'rm', '12'], IDS), ['task', 'delete', '12']);
  t.deepEqual(expandShortForms(['a', 'token', 'ls'], IDS), ['agent', 'token', 'list']);
  t.deepEqual(expandShortForms(['help', 'e', 'ls'], IDS), ['help', 'experiment', 'list']);
  t.deepEqual(expandShortForms(['u', 'whoami'], IDS), ['user', 'whoami']);
  // experiment has no delete: rm stays what it is (and is reported as a mistyped command).
  t.deepEqual(expandShortForms(['e', 'rm', '3'], IDS), ['experiment', 'rm', '3']);
  // Words after the command are its arguments, after -- a task's command.
  t.deepEqual(expandShortForms(['e', 'logs', 'ls'], IDS), ['experiment', 'logs', 'ls']);
  t.deepEqual(expandShortForms(['cmd', 'run', '--', 'ls'], IDS), ['command', 'run', '--', 'ls']);
  t.deepEqual(expandShortForms(['ls'], IDS), ['ls'], 'not a topic at the root');
  t.deepEqual(expandShortForms(['-m', 'x', 'e', 'ls'], IDS), ['-m', 'x', 'e', 'ls'], 'after hoisting, flags come last');
});

test('--context and --no-color are hoisted like the other global flags', (t) => {
  t.deepEqual(hoistGlobalFlags(['--context', 'prod', '--no-color', 'task', 'list']), ['task', 'list', '--context', 'prod', '--no-color']);
});
