/**
 * TEST ONLY: fault injection for the crash tests. With `YARD_TEST_CRASH_AT=<side>:<step>` set
 * (for example `agent:after-create`), the process SIGKILLs itself the first time it reaches that
 * step, exactly as `kill -9` would, so a test can crash the master or the agent between two
 * precise steps of dispatch. Unset (always, outside tests), each call is one string comparison.
 *
 * Steps: master:after-submit, master:before-assign, master:after-assign, master:after-ack, master:after-running;
 * a Slurm pool's placement: master:before-slurm-submit (the task is leased and its one-shot
 * token minted, nothing submitted), master:after-slurm-submit (Slurm has the job, its id is not
 * stored), master:after-slurm-placement (the job id is stored),
 * master:after-preempt-request (a preemption recorded, the agent not yet told);
 * agent:after-lease, agent:after-ack, agent:after-create, agent:after-start, agent:after-running,
 * agent:after-exit.
 *
 * `YARD_TEST_STOP_AT=<side>:<step>` instead SIGSTOPs the process there (once): it stays frozen, as a
 * stalled machine would, until the test sends SIGCONT. The HA test freezes a leader in the middle of
 * an assignment, lets another master take over, and wakes it to see its write refused.
 */
export type CrashPoint =
  | 'master:after-submit'
  | 'master:before-assign'
  | 'master:after-assign'
  | 'master:after-ack'
  | 'master:after-running'
  | 'master:before-slurm-submit'
  | 'master:after-slurm-submit'
  | 'master:after-slurm-placement'
  | 'master:after-preempt-request'
  | 'agent:after-lease'
  | 'agent:after-ack'
  | 'agent:after-create'
  | 'agent:after-start'
  | 'agent:after-running'
  | 'agent:after-exit';

let stopped = false;

export function crashPoint(point: CrashPoint): void {
  if (process.env.YARD_TEST_STOP_AT === point && !stopped) {
    stopped = true;
    process.stderr.write(`[trainyard] YARD_TEST_STOP_AT=${point}: stopping this process until SIGCONT (test-only fault injection)\n`);
    process.kill(process.pid, 'SIGSTOP');
    return;
  }
  if (process.env.YARD_TEST_CRASH_AT !== point) return;
  process.stderr.write(`[trainyard] YARD_TEST_CRASH_AT=${point}: killing this process (test-only fault injection)\n`);
  process.kill(process.pid, 'SIGKILL');
}
