import test from 'ava';
import { fits, freeCapacity, portsFree } from './fit.js';

const agent = { cpus: 8, memoryBytes: 16e9, gpus: [{ index: 0, name: 'A100' }, { index: 1, name: 'A100' }] };

test('held tasks use up an agent', (t) => {
  const free = freeCapacity(agent, [{ gpus: 1, cpu: 2, memory: 4e9 }, { gpus: 0 }]);
  t.deepEqual(free, { gpus: 1, cpu: 6, memory: 12e9 });
});

test('a task fits only where every resource it asks for is free', (t) => {
  const free = freeCapacity(agent, [{ gpus: 1, cpu: 2 }]);
  t.true(fits({ gpus: 1, cpu: 6 }, free));
  t.false(fits({ gpus: 2 }, free), 'not enough GPUs');
  t.false(fits({ gpus: 0, cpu: 7 }, free), 'not enough cpu');
  t.false(fits({ gpus: 0, memory: 17e9 }, free), 'not enough memory');
  t.true(fits({ gpus: 0 }, freeCapacity({ cpus: 1, memoryBytes: 0, gpus: [] }, [])), 'asks for nothing');
});

test("the process executor's tasks share the machine's network: a port a held task serves does not fit; containers' ports always do", (t) => {
  const held = [[{ container: 8888 }], []];
  t.false(portsFree('process', [{ container: 8888 }], held));
  t.true(portsFree('process', [{ container: 8889 }], held));
  t.true(portsFree('process', [], held), 'a task serving no port');
  t.true(portsFree('docker', [{ container: 8888 }], held), 'each container has its own network');
});
