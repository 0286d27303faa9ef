import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The files of one process-executor run, in its own root-owned directory under the agent's
 * state: the shim and the agent (also a restarted one) meet here, never through pipes.
 */
export interface RunFiles {
  dir: string;
  /** What the agent started: task, lease, the task's home (written before anything starts). */
  record: string;
  /** Taken with O_EXCL by the shim before it starts the task, or by a restarted agent that gives the run up. */
  claim: string;
  /** The shim's pid and start time. */
  shim: string;
  /** The task's pid and start time, once it was spawned: the run started. */
  child: string;
  /**
   * One line per output line: "o" (stdout) or "e" (stderr), then the text. The agent writes its
   * own notices about the run first ("s"), before the shim appends the task's.
   */
  output: string;
  /** The task's end, written atomically once its output is complete. */
  status: string;
  passwd: string;
  group: string;
  launch: string;
}

export function runFiles(dir: string): RunFiles {
  const at = (name: string) => path.join(dir, name);
  return {
    dir,
    record: at('record.json'),
    claim: at('claim'),
    shim: at('shim.json'),
    child: at('child.json'),
    output: at('output'),
    status: at('status.json'),
    passwd: at('passwd'),
    group: at('group'),
    launch: at('launch.sh'),
  };
}

export interface RunRecord {
  taskId: number;
  leaseId: string;
  home: string;
  /** Who commands run inside the task run as (shells), and their environment; absent in runs of agents before 0.3. */
  exec?: { uid: number; gid: number; groups: number[]; env: Record<string, string> };
  /** The ports admitted with the task: the only ones the agent connects to for the master. */
  ports?: number[];
}

/** A process, told apart from a later one that reuses its pid by its start time. */
export interface ProcessRef {
  pid: number;
  start: string;
}

/** How a run ended: the task's exit, or why it never started. */
export type RunStatus = { exitCode: number | null; signal: NodeJS.Signals | null } | { error: string };

/** What the agent sends the shim. */
export interface ShimJob {
  dir: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
}

export type ShimReply = { type: 'spawned'; child: ProcessRef } | { type: 'refused' } | { type: 'error'; message: string };

/** Written whole or not at all: a reader (or a crash) never sees half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(value), { mode: 0o600 });
  renameSync(temp, file);
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Exactly one of the shim and a restarted agent gets the claim. */
export function takeClaim(files: RunFiles, by: string): boolean {
  try {
    closeSync(openSync(files.claim, 'wx'));
    writeFileSync(files.claim, by);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function processRef(pid: number): ProcessRef | undefined {
  const start = processStartTime(pid);
  return start === undefined ? undefined : { pid, start };
}

/** The very process recorded, still there (not a later one with the same pid, not a zombie). */
export function isAlive(ref: ProcessRef | undefined): boolean {
  if (!ref || processStartTime(ref.pid) !== ref.start) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${ref.pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Signals a run's process group, only if its leader is still the process recorded. */
export function signalGroup(ref: ProcessRef | undefined, signal: NodeJS.Signals): boolean {
  if (!ref || processStartTime(ref.pid) !== ref.start) return false;
  try {
    process.kill(-ref.pid, signal);
    return true;
  } catch {
    return false;
  }
}
