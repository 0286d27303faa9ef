import { Errors, Flags } from '@oclif/core';
import type { QuotaRequest } from '@trainyard/shared';

/** The limits a quota may set, as flags; `yard quota set` also takes `none` to remove one. */
export const quotaLimitFlags = {
  'max-running': Flags.string({ summary: 'Tasks assigned or running at once; more wait with QUOTA_RUNNING_*.' }),
  'max-submitted': Flags.string({ summary: 'Tasks queued or running at once; more are refused at submission.' }),
  cpu: Flags.string({ summary: 'CPUs of running tasks (a task that names none counts 1).' }),
  memory: Flags.string({ summary: 'Memory of running tasks: 64GiB, 500M (K/M/G/T decimal, Ki/Mi/Gi/Ti binary).' }),
  gpus: Flags.string({ summary: 'GPUs of running tasks.' }),
  'max-runtime': Flags.string({ summary: 'How long one task may run (30m, 2h, 7d) before it is killed with RUNTIME_LIMIT.' }),
  'deny-on-limit': Flags.boolean({ summary: 'Refuse submissions that would have to wait for this quota, instead of queueing them.', allowNo: true }),
};

type LimitFlags = { [K in keyof typeof quotaLimitFlags]?: K extends 'deny-on-limit' ? boolean : string };

/** The request body for the flags given; `none` (only when `allowNone`) removes a limit. */
export function quotaRequestFrom(flags: LimitFlags, allowNone: boolean): QuotaRequest {
  const request: QuotaRequest = {};
  const parse = (flag: string, value: string | undefined, pattern: RegExp, what: string, convert: (v: string) => number | string) => {
    if (value === undefined) return undefined;
    if (value === 'none') {
      if (!allowNone) throw new Errors.CLIError(`--${flag} none: there is nothing to remove on a new quota; leave the flag out`, { exit: 2 });
      return null;
    }
    if (!pattern.test(value)) throw new Errors.CLIError(`--${flag} must be ${what}${allowNone ? ' or none' : ''}, got '${value}'`, { exit: 2 });
    return convert(value);
  };
  const count = /^\d{1,9}$/;
  const set = <K extends keyof QuotaRequest>(key: K, value: QuotaRequest[K] | undefined) => {
    if (value !== undefined) request[key] = value;
  };
  set('maxRunning', parse('max-running', flags['max-running'], count, 'a whole number', Number) as number | null | undefined);
  set('maxSubmitted', parse('max-submitted', flags['max-submitted'], count, 'a whole number', Number) as number | null | undefined);
  set('cpu', parse('cpu', flags.cpu, /^\d{1,9}(\.\d{1,3})?$/, 'a number of CPUs', Number) as number | null | undefined);
  set('gpus', parse('gpus', flags.gpus, count, 'a whole number', Number) as number | null | undefined);
  // Sizes and durations are read by the master (one parser for both).
  set('memory', parse('memory', flags.memory, /./, 'a size', String) as string | null | undefined);
  set('maxRuntime', parse('max-runtime', flags['max-runtime'], /./, 'a duration', String) as string | null | undefined);
  if (flags['deny-on-limit'] !== undefined) request.denyOnLimit = flags['deny-on-limit'];
  return request;
}

/** `--user U` or `--group PATH`: who holds a quota. */
export const quotaHolderFlags = {
  user: Flags.string({ summary: 'This user (their own tasks).', exactlyOne: ['user', 'group'] }),
  group: Flags.string({ summary: 'This group (the sum of the tasks created in it).', exactlyOne: ['user', 'group'] }),
};

/** "user alice", "group research". */
export const holderName = (a: { user: string | null; group: string | null }) => (a.user !== null ? `user ${a.user}` : `group ${a.group}`);
