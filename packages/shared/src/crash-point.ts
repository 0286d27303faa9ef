/**
 * TEST ONLY: fault injection for the crash tests. With `YARD_TEST_CRASH_AT=<side>:<step>` set
 * (for example `agent:after-create`), the process SIGKILLs itself the first time it reaches that
 * step, exactly as `kill -9` would, so a test can crash the master or the agent between two
 * precise steps of dispatch. Unset (always, outside tests), each call is one string comparison.
 *
 * Steps: master:after-submit, master:after-assign, master:after-ack, master:after-running,
 * master:after-preempt-request (a preemption recorded, the agent not yet told);
 * agent:after-lease, agent:after-ack, agent:after-create, agent:after-start, agent:after-running,
 * agent:after-exit.
 */
export type CrashPoint =
  | 'master:after-submit'
  | 'master:after-assign'
  | 'master:after-ack'
  | 'master:after-running'
  | 'master:after-preempt-request'
  | 'agent:after-lease'
  | 'agent:after-ack'
  | 'agent:after-create'
  | 'agent:after-start'
  | 'agent:after-running'
  | 'agent:after-exit';

export function crashPoint(point: CrashPoint): void {
  if (process.env.YARD_TEST_CRASH_AT !== point) return;
  process.stderr.write(`[trainyard] YARD_TEST_CRASH_AT=${point}: killing this process (test-only fault injection)\n`);
  process.kill(process.pid, 'SIGKILL');
}
