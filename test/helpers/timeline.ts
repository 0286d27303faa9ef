import type { Task } from '@trainyard/shared';

/** The most tasks that held the given weight at once, from the tasks' own start and end times (never a wall clock of the test's). */
export function peak(tasks: Task[], weight: (t: Task) => number = () => 1): number {
  const events = tasks.flatMap((t) => [
    { at: Date.parse(t.startedAt!), delta: weight(t) },
    { at: Date.parse(t.endedAt!), delta: -weight(t) },
  ]);
  // An end and a start at the same millisecond: the end first (the slot was free).
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let most = 0;
  for (const e of events) most = Math.max(most, (now += e.delta));
  return most;
}
