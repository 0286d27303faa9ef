import test from 'ava';
import { TASK_STATES, TERMINAL_STATES } from '@trainyard/shared';
import { assertTransition, canTransition } from './task-state-machine.js';

test('the happy path is allowed step by step', (t) => {
  t.true(canTransition('QUEUED', 'ASSIGNED'));
  t.true(canTransition('ASSIGNED', 'PULLING'));
  t.true(canTransition('PULLING', 'RUNNING'));
  t.true(canTransition('RUNNING', 'COMPLETED'));
});

test('ended tasks never change again', (t) => {
  for (const from of TERMINAL_STATES) {
    for (const to of TASK_STATES) t.false(canTransition(from, to), `${from} -> ${to}`);
  }
  const error = t.throws(() => assertTransition(7, 'KILLED', 'RUNNING'));
  t.is((error as { code?: string }).code, 'ILLEGAL_TRANSITION');
  t.regex(error!.message, /task 7 cannot change to RUNNING: it already ended as KILLED/);
});

test('a queued task cannot skip to running or complete', (t) => {
  t.false(canTransition('QUEUED', 'RUNNING'));
  t.false(canTransition('QUEUED', 'COMPLETED'));
  t.throws(() => assertTransition(1, 'QUEUED', 'RUNNING'), { message: /QUEUED cannot become RUNNING/ });
});
