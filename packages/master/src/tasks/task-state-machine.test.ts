import test from 'ava';
import { TASK_STATES, TERMINAL_STATES } from '@trainyard/shared';
import { applyEvent, assertTransition, canTransition, TASK_EVENTS } from './task-state-machine.js';

test('the happy path is allowed step by step', (t) => {
  t.is(applyEvent(1, 'QUEUED', 'assign'), 'ASSIGNED');
  t.is(applyEvent(1, 'ASSIGNED', 'pull'), 'PULLING');
  t.is(applyEvent(1, 'PULLING', 'start'), 'RUNNING');
  t.is(applyEvent(1, 'RUNNING', 'complete'), 'COMPLETED');
  t.is(applyEvent(1, 'ASSIGNED', 'start'), 'RUNNING', 'an image already there needs no pull');
});

test('ended tasks never change again', (t) => {
  for (const from of TERMINAL_STATES) {
    for (const to of TASK_STATES) t.false(canTransition(from, to), `${from} -> ${to}`);
    for (const event of Object.keys(TASK_EVENTS) as Array<keyof typeof TASK_EVENTS>) t.throws(() => applyEvent(1, from, event));
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

test('only a started task completes: never from ASSIGNED or PULLING', (t) => {
  t.false(canTransition('ASSIGNED', 'COMPLETED'));
  t.false(canTransition('PULLING', 'COMPLETED'));
  const error = t.throws(() => applyEvent(9, 'ASSIGNED', 'complete'));
  t.is((error as { code?: string }).code, 'ILLEGAL_TRANSITION');
  t.regex(error!.message, /ASSIGNED cannot become COMPLETED \(complete\)/);
});

test('a release gives back only what never started; a restart takes any run back to the queue', (t) => {
  t.is(applyEvent(1, 'ASSIGNED', 'release'), 'QUEUED');
  t.is(applyEvent(1, 'PULLING', 'release'), 'QUEUED');
  t.throws(() => applyEvent(1, 'RUNNING', 'release'), { message: /RUNNING cannot become QUEUED \(release\)/ });
  t.is(applyEvent(1, 'RUNNING', 'restart'), 'QUEUED');
});

test('a preemption takes a placed or running task back to the queue, never a queued or ended one', (t) => {
  for (const from of ['ASSIGNED', 'PULLING', 'RUNNING'] as const) t.is(applyEvent(1, from, 'preempt'), 'QUEUED');
  t.throws(() => applyEvent(1, 'QUEUED', 'preempt'), { message: /QUEUED cannot become QUEUED \(preempt\)/ });
  t.throws(() => applyEvent(1, 'COMPLETED', 'preempt'), { message: /already ended as COMPLETED/ });
});
