import type { TaskState } from '@trainyard/shared';

/**
 * How `yard` exits when it waited for a task (`-f`, `logs -f`, `task wait`, the starts that wait):
 * with the task's own exit code when it has one, else a fixed status per end. The ends without a
 * code borrow what people already know: 124 from timeout(1), 125 from `docker run` (the run itself
 * could not happen), 128+9 from a shell (killed), 130 from Ctrl-C, 69 from sysexits.h
 * (EX_UNAVAILABLE: the machine it ran on went away). README and `--help` print this table.
 */
export const EXIT = {
  /** COMPLETED, or the state waited for was reached. */
  OK: 0,
  /** yard's own failure: the master refused, could not be reached, an answer it does not understand. */
  ERROR: 1,
  /** A mistake on the command line. */
  USAGE: 2,
  /** LOST: its agent went silent or the run vanished; how it ended is not known. */
  LOST: 69,
  /** `--timeout` passed before the task got where it was waited for (it keeps going). */
  TIMEOUT: 124,
  /** FAILED without an exit code: it never ran (the image, a mount, the agent refused it). */
  FAILED_NO_CODE: 125,
  /** Ctrl-C (at a prompt, or while waiting: the task keeps going). */
  INTERRUPTED: 130,
  /** KILLED (by someone, a runtime limit or idle shutdown), whatever the process itself returned. */
  KILLED: 137,
} as const;

/** The exit status of a task that ended: its own code (FAILED with one), else the table's. */
export function exitStatusOf(task: { state: TaskState; exitCode: number | null }): number {
  switch (task.state) {
    case 'COMPLETED':
      return EXIT.OK;
    case 'KILLED':
      return EXIT.KILLED;
    case 'LOST':
      return EXIT.LOST;
    case 'FAILED':
      // A code a process can exit with, and not 0 (a FAILED task never did): else, as good as none.
      return task.exitCode !== null && task.exitCode >= 1 && task.exitCode <= 255 ? task.exitCode : EXIT.FAILED_NO_CODE;
    default:
      return EXIT.ERROR;
  }
}

/** The table, for `--help` of every command that waits, and the README. */
export const EXIT_STATUS_HELP = [
  'EXIT STATUS (when it waits for a task)',
  "  0     the task COMPLETED (or reached the state waited for)",
  "  N     the task FAILED with exit code N: its own code, passed through",
  '  1     yard itself failed (the master refused, cannot be reached, an answer it does not understand)',
  '  2     a usage error',
  `  ${EXIT.LOST}    the task was LOST (its agent went away; how it ended is not known)`,
  `  ${EXIT.TIMEOUT}   --timeout passed first (the task keeps going)`,
  `  ${EXIT.FAILED_NO_CODE}   the task FAILED without an exit code (it never ran: image, mount, refused)`,
  `  ${EXIT.INTERRUPTED}   Ctrl-C (the task keeps going)`,
  `  ${EXIT.KILLED}   the task was KILLED`,
].join('\n');
