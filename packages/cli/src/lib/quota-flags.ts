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
  'per-user': Flags.string({
    summary: 'Cap each member inside it: N (of the one limit the quota sets), or gpus=4,max-running=2,cpu=8,memory=64GiB.',
    description: 'On a group quota: the group may use 16 GPUs and no one person more than 4 (--gpus 16 --per-user 4). Tasks over it wait with QUOTA_<RESOURCE>_PER_USER:<group>.',
  }),
  pool: Flags.string({ summary: 'Count, and hold back, only the tasks of this pool (yard pool list); default: every pool.' }),
  'gpu-hours': Flags.string({ summary: 'A budget: GPU-hours over --window; once spent, tasks asking GPUs wait with BUDGET_GPU_HOURS_*.' }),
  'cpu-hours': Flags.string({ summary: 'A budget: CPU-hours over --window (a task asking no CPU counts one); once spent, tasks wait with BUDGET_CPU_HOURS_*.' }),
  window: Flags.string({ summary: "The budgets' window: a rolling 30d (the default), 7d, 12h..., or month (the calendar month, UTC)." }),
};

type LimitFlags = { [K in keyof typeof quotaLimitFlags]?: K extends 'deny-on-limit' ? boolean : string };

const PER_USER_KEYS = { gpus: 'gpus', cpu: 'cpu', memory: 'memory', 'max-running': 'maxRunning', running: 'maxRunning' } as const;

/** `2`, or `gpus=4,max-running=2`: each member's cap, as the master takes it. */
function perUserFrom(value: string, allowNone: boolean): QuotaRequest['perUser'] {
  if (value === 'none') {
    if (!allowNone) throw new Errors.CLIError('--per-user none: there is nothing to remove on a new quota; leave the flag out', { exit: 2 });
    return null;
  }
  if (/^\d{1,9}$/.test(value)) return Number(value);
  const caps: Record<string, number | string> = {};
  for (const part of value.split(',')) {
    const match = /^([a-z-]+)=(.+)$/.exec(part.trim());
    const key = match && PER_USER_KEYS[match[1] as keyof typeof PER_USER_KEYS];
    if (!match || !key) {
      throw new Errors.CLIError(`--per-user must be a number or RESOURCE=N[,RESOURCE=N] with gpus, cpu, memory or max-running, got '${value}'`, { exit: 2 });
    }
    const amount = match[2]!;
    if (key === 'memory') caps[key] = amount;
    else if (/^\d{1,9}(\.\d{1,3})?$/.test(amount)) caps[key] = Number(amount);
    else throw new Errors.CLIError(`--per-user ${match[1]} must be a number, got '${amount}'`, { exit: 2 });
  }
  return caps as QuotaRequest['perUser'];
}

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
  set('pool', parse('pool', flags.pool, /./, 'a pool name', String) as string | null | undefined);
  set('gpuHours', parse('gpu-hours', flags['gpu-hours'], /^\d{1,9}(\.\d{1,3})?$/, 'a number of hours', Number) as number | null | undefined);
  set('cpuHours', parse('cpu-hours', flags['cpu-hours'], /^\d{1,9}(\.\d{1,3})?$/, 'a number of hours', Number) as number | null | undefined);
  set('window', parse('window', flags.window, /./, 'a duration or month', String) as string | null | undefined);
  if (flags['per-user'] !== undefined) request.perUser = perUserFrom(flags['per-user'], allowNone);
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
