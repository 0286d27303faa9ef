import test from 'ava';
import { oneShotLaunch } from './one-shot-placement.js';

test("the one-shot agent's command line names its task and master; the token travels only in the environment", (t) => {
  const launch = oneShotLaunch({ taskId: 7, token: 'yard_agent_secret' }, { agentCommand: ['/opt/trainyard/bin/yard-agent'], masterUrl: 'https://yard.example.org' });
  t.deepEqual(launch.command, ['/opt/trainyard/bin/yard-agent', '--one-shot', '--task', '7', '--master', 'https://yard.example.org']);
  t.deepEqual(launch.environment, { YARD_AGENT_TOKEN: 'yard_agent_secret' });
  t.false(launch.command.join(' ').includes('secret'));
});

test('container: podman adds the flag and each of the pool podman options in one word, so that none is read as a flag of its own', (t) => {
  const launch = oneShotLaunch(
    { taskId: 7, token: 't' },
    { agentCommand: ['yard-agent'], masterUrl: 'http://m', container: { kind: 'podman', podmanArgs: ['--cgroup-manager=cgroupfs', '--runtime=runc'] } },
  );
  t.deepEqual(launch.command.slice(6), ['--container', 'podman', '--podman-arg=--cgroup-manager=cgroupfs', '--podman-arg=--runtime=runc']);
  t.is(oneShotLaunch({ taskId: 7, token: 't' }, { agentCommand: ['yard-agent'], masterUrl: 'http://m', container: { kind: 'none' } }).command.length, 6);
});
