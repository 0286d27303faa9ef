import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os, { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { containerPathViolation, crashPoint, type TaskRunSpec } from '@trainyard/shared';
import { withIdentity } from '../identity-files.js';
import { OutputTail, SYSTEM_TAG } from '../shim/output-tail.js';
import {
  isAlive,
  readJson,
  runFiles,
  signalGroup,
  takeClaim,
  writeJsonAtomic,
  type ProcessRef,
  type RunFiles,
  type RunRecord,
  type RunStatus,
  type ShimJob,
  type ShimReply,
} from '../shim/run-files.js';
import { connectTcp } from './connect-tcp.js';
import { interactiveEnvironment } from './docker-executor.js';
import { execInRun } from './exec-process.js';
import { finished, type Executor, type ExistingRun, type Run, type RunHooks, type RunOutcome } from './executor.js';
import { notItself, ownHome } from './own-identity.js';

const SHIM = fileURLToPath(new URL('../shim/task-shim.js', import.meta.url));
const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
// How long a restarted agent waits for a shim that claimed a run to start it.
const CLAIMED_WAIT_MS = 3000;

/**
 * Runs each task as a process of the task's uid:gid when no container engine answers. Each task
 * runs under a detached shim (shim/task-shim.ts) that owns its pipes and records its output and
 * exit status in files, so a restarted agent reattaches or reports the real outcome. As root with
 * mount namespaces (unshare), the process sees a passwd/group naming its uid and the config's
 * bind mounts, with every capability dropped and no-new-privileges; otherwise it runs with plain
 * setuid and bind mounts must be identity paths. cpu and memory limits are not enforced here, and
 * the task shares the machine's file system (use the Docker executor to confine it).
 */
export class ProcessExecutor implements Executor {
  readonly name = 'process' as const;
  private readonly namespaces: boolean;
  private readonly runsDir: string;
  /** A shim started ahead, so a task does not wait for Node to boot. */
  private idleShim: ChildProcess | undefined;

  constructor(
    private readonly workDir: string,
    /**
     * `asItself`: a one-shot agent's executor (inside a Slurm job): it already runs as the task's
     * user and never changes identity; it runs a task only if its own uid and gid are the task's,
     * with the user's own HOME (as a login on the node would) and the groups the node gives.
     */
    private readonly options: {
      asItself?: boolean;
      /** Variables every task gets after its own, which it cannot replace (a Slurm job's SLURM_*, CUDA_VISIBLE_DEVICES). */
      environment?: Record<string, string>;
    } = {},
  ) {
    this.runsDir = path.join(workDir, 'runs');
    mkdirSync(this.runsDir, { recursive: true, mode: 0o700 });
    this.namespaces = !options.asItself && canUseMountNamespaces();
    this.idleShim = spawnShim();
  }

  describe(): string {
    const how = this.options.asItself
      ? `as its own user (uid ${process.getuid?.()}), for one task`
      : this.namespaces
        ? 'mount namespaces: names and bind mounts as in a container'
        : 'no mount namespaces: plain setuid';
    return `process executor in ${this.workDir} (${how})`;
  }

  /** The process executor runs the machine's own programs: any image reference runs (it is ignored). */
  async images(): Promise<null> {
    return null;
  }

  close(): void {
    this.idleShim?.kill();
    this.idleShim = undefined;
  }

  async start(spec: TaskRunSpec, hooks: RunHooks): Promise<Run> {
    const { runAs } = spec;
    if (this.options.asItself) {
      const refused = notItself(runAs);
      if (refused) return finished({ state: 'FAILED', message: refused });
    } else if (process.getuid?.() !== 0 && runAs.uid !== process.getuid?.()) {
      return finished({ state: 'FAILED', message: `the process executor runs as uid ${process.getuid?.()} and cannot run tasks as uid ${runAs.uid}: run yard-agent as root` });
    }
    const name = `${spec.taskId}-${spec.leaseId.slice(0, 8)}`;
    const home = (this.options.asItself && ownHome()) || path.join(this.workDir, 'tasks', name);
    const files = runFiles(path.join(this.runsDir, name));
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    const launch = this.launchCommand(spec, home, files);
    if ('refused' in launch) {
      rmSync(files.dir, { recursive: true, force: true });
      return finished({ state: 'FAILED', message: launch.refused });
    }
    if (!existsSync(home)) {
      mkdirSync(home, { recursive: true });
      chownSync(home, runAs.uid, runAs.gid);
    }
    const notices: string[] = [];
    if ((spec.resources.cpu || spec.resources.memory) && !this.options.asItself) notices.push('[trainyard] the process executor does not enforce cpu or memory limits');
    if (spec.confinement.capabilities.length > 0) {
      notices.push(`[trainyard] the process executor drops every capability: ${spec.confinement.capabilities.join(', ')} (admitted by the policy) is not given`);
    }
    if (this.options.asItself) {
      const missing = runAs.supplementaryGroups.filter((g) => !process.getgroups?.().includes(g.gid));
      if (missing.length > 0) notices.push(`[trainyard] the task has the groups this node gives ${runAs.user}; not ${missing.map((g) => `${g.name} (${g.gid})`).join(', ')}`);
    } else if (!this.namespaces && runAs.supplementaryGroups.length > 0) {
      notices.push('[trainyard] without mount namespaces the process executor gives no supplementary groups');
    }
    // The run's own notices open its output file, ahead of the task's lines: the file is the one
    // record of everything the run shows, so a restarted agent that skips the lines the master
    // has (its log offset counts these too) resumes at the right task line.
    writeFileSync(files.output, notices.map((line) => `${SYSTEM_TAG}${line}\n`).join(''), { mode: 0o600 });
    const job: ShimJob = {
      dir: files.dir,
      ...launch,
      cwd: home,
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        ...spec.environment,
        ...this.options.environment,
        HOME: home,
        USER: runAs.user,
        LOGNAME: runAs.user,
        ...Object.fromEntries(interactiveEnvironment(spec)),
      },
    };
    const exec = { uid: runAs.uid, gid: runAs.gid, groups: this.options.asItself ? [] : runAs.supplementaryGroups.map((g) => g.gid), env: job.env };
    const ports = spec.ports.map((p) => p.container);
    writeJsonAtomic(files.record, { taskId: spec.taskId, leaseId: spec.leaseId, home, exec, ports } satisfies RunRecord);
    crashPoint('agent:after-create');

    const reply = await this.startShim(job);
    const child = reply?.type === 'spawned' ? reply.child : readJson<ProcessRef>(files.child);
    if (!child) {
      const status = readJson<RunStatus>(files.status);
      const why = status && 'error' in status ? status.error : reply?.type === 'error' ? reply.message : 'its shim ended before starting it';
      rmSync(files.dir, { recursive: true, force: true });
      for (const line of notices) hooks.output('system', line);
      return finished({ state: 'FAILED', message: why });
    }
    crashPoint('agent:after-start');
    // Output flows from now on; the outcome is reported only after RUNNING (once `start` returned).
    const run = this.follow(files, child, hooks, 0, { home, exec, ports });
    await hooks.state('RUNNING');
    return run;
  }

  /** What the shim runs: the command in a private mount namespace (as root), or as is with setuid. */
  private launchCommand(spec: TaskRunSpec, home: string, files: RunFiles): Pick<ShimJob, 'command' | 'args' | 'uid' | 'gid'> | { refused: string } {
    const { runAs } = spec;
    if (!this.namespaces) {
      const moved = spec.bindMounts.find((m) => m.hostPath !== m.containerPath);
      if (moved) {
        return { refused: `this agent cannot map ${moved.hostPath} to ${moved.containerPath} without mount namespaces; use the same path on both sides or the docker executor` };
      }
      // Running as itself, nothing to switch to (and an unprivileged setgroups would only fail).
      const ids = this.options.asItself ? {} : { uid: runAs.uid, gid: runAs.gid };
      if (umaskOf(spec)) return { command: '/bin/sh', args: ['-c', `umask ${umaskOf(spec)} && exec "$@"`, 'sh', ...spec.entrypoint], ...ids };
      const [command, ...args] = spec.entrypoint as [string, ...string[]];
      return { command, args, ...ids };
    }
    const targets: string[] = [];
    for (const mount of spec.bindMounts) {
      const target = mountTarget(mount.hostPath, mount.containerPath);
      if ('refused' in target) return target;
      targets.push(target.path);
    }
    // The names come from this machine's own files (the process executor's "image"), never from a mount.
    const identity = withIdentity(readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'), runAs, home);
    writeFileSync(files.passwd, identity.passwd, { mode: 0o644 });
    writeFileSync(files.group, identity.group, { mode: 0o644 });
    const script = [
      'set -e',
      ...spec.bindMounts.flatMap((m, i) => [
        `mount --bind ${quote(m.hostPath)} ${quote(targets[i]!)}`,
        ...(m.readOnly ? [`mount -o remount,bind,ro ${quote(targets[i]!)}`] : []),
      ]),
      // Last, so that no task mount can cover them.
      `mount --bind -o ro ${quote(files.passwd)} /etc/passwd`,
      `mount --bind -o ro ${quote(files.group)} /etc/group`,
      ...(umaskOf(spec) ? [`umask ${umaskOf(spec)}`] : []),
      `exec setpriv --reuid=${runAs.uid} --regid=${runAs.gid} ${groupsOption(runAs.supplementaryGroups)} --no-new-privs --inh-caps=-all --bounding-set=-all ` +
        '--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked -- "$@"',
    ].join('\n');
    writeFileSync(files.launch, `${script}\n`, { mode: 0o700 });
    return { command: 'unshare', args: ['--mount', '--propagation', 'private', '--', '/bin/sh', files.launch, ...spec.entrypoint] };
  }

  /** Hands the job to the waiting shim (and starts the next one); resolves with its answer, or undefined if it died. */
  private startShim(job: ShimJob): Promise<ShimReply | undefined> {
    let shim = this.idleShim;
    this.idleShim = undefined;
    if (shim?.connected) setPriority(shim, 0);
    else shim = spawnShim(0);
    setTimeout(() => (this.idleShim ??= spawnShim()), 50).unref();
    return new Promise((resolve) => {
      const done = (reply: ShimReply | undefined) => {
        shim.off('message', done);
        shim.off('exit', gone);
        resolve(reply);
      };
      const gone = () => done(undefined);
      shim.on('message', done);
      shim.once('exit', gone);
      shim.send(job, (error) => error && done(undefined));
    });
  }

  /** Follows a started run through its files until its status is written. */
  private follow(files: RunFiles, child: ProcessRef | undefined, hooks: RunHooks, skipLines: number, record?: Pick<RunRecord, 'home' | 'exec' | 'ports'>): Run {
    let stopped = false;
    let killTimer: NodeJS.Timeout | undefined;
    const tail = new OutputTail(files, skipLines, (stream, line) => hooks.output(stream, line));
    const shim = readJson<ProcessRef>(files.shim);
    const done = (async (): Promise<RunOutcome> => {
      const status = await tail.follow(() => !isAlive(shim) && !isAlive(child));
      clearTimeout(killTimer);
      if (!status) return { state: 'LOST', message: 'the task ended while nothing recorded its exit (its shim was killed)' };
      if ('error' in status) return { state: 'FAILED', message: status.error };
      const exitCode = status.exitCode ?? 128 + (status.signal ? (constants.signals[status.signal] ?? 0) : 0);
      if (stopped) return { state: 'KILLED', exitCode };
      if (status.exitCode === 0) return { state: 'COMPLETED', exitCode: 0 };
      return { state: 'FAILED', exitCode, ...(status.signal ? { message: `killed by ${status.signal}` } : {}) };
    })();
    return {
      done,
      stop: async (graceMs) => {
        if (stopped) return;
        stopped = true;
        // Only the very process recorded: a pid reused since is never signalled.
        signalGroup(child, 'SIGTERM');
        killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
      },
      cleanup: async () => rmSync(files.dir, { recursive: true, force: true }),
      // The port on this machine's loopback: any local user of the machine can reach it too (documented).
      connect: async (port) => {
        // Only the ports admitted with the task, whatever a master asks: anything else on this machine's loopback is not the task's.
        if (!record?.ports?.includes(port)) throw new Error(`port ${port} is not a port of this task`);
        return connectTcp('127.0.0.1', port);
      },
      exec: async (request) => {
        if (!record?.exec) throw new Error('this run was started by an older agent: it cannot open a shell');
        return execInRun(this.execCommand(record.exec, child, request.command), record.home, record.exec.env, request);
      },
    };
  }

  /**
   * A command inside a run as its uid:gid: as root, in the task's mount namespace (nsenter) and
   * dropped to its identity as the task was (setpriv, no capabilities, no-new-privileges);
   * otherwise the agent already is that uid.
   */
  private execCommand(exec: NonNullable<RunRecord['exec']>, child: ProcessRef | undefined, command: string[]): string[] {
    if (process.getuid?.() !== 0) return command;
    const enter = this.namespaces && child && isAlive(child) ? ['nsenter', `--target=${child.pid}`, '--mount', '--'] : [];
    return [
      ...enter,
      'setpriv',
      `--reuid=${exec.uid}`,
      `--regid=${exec.gid}`,
      groupsOption(exec.groups.map((gid) => ({ gid }))),
      '--no-new-privs',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked',
      '--',
      ...command,
    ];
  }

  /** Runs left by an earlier agent: started ones are reattached through their files; others never ran. */
  async findExisting(): Promise<ExistingRun[]> {
    if (!existsSync(this.runsDir)) return [];
    const runs: ExistingRun[] = [];
    for (const name of readdirSync(this.runsDir)) {
      const files = runFiles(path.join(this.runsDir, name));
      const record = readJson<RunRecord>(files.record);
      if (!record) {
        // Written before anything started (or not a run at all).
        rmSync(files.dir, { recursive: true, force: true });
        continue;
      }
      const started = await this.wasStarted(files);
      const child = () => readJson<ProcessRef>(files.child);
      runs.push({
        taskId: record.taskId,
        leaseId: record.leaseId,
        started,
        adopt: async (hooks, skipLines) => this.follow(files, child(), hooks, skipLines, record),
        discard: async () => {
          signalGroup(child(), 'SIGKILL');
          rmSync(files.dir, { recursive: true, force: true });
        },
      });
    }
    return runs;
  }

  /**
   * Whether a run's task was started. Its shim and this agent race for the claim: if the agent
   * takes it, the shim will never start the task.
   */
  private async wasStarted(files: RunFiles): Promise<boolean> {
    const deadline = Date.now() + CLAIMED_WAIT_MS;
    for (;;) {
      if (existsSync(files.child) || existsSync(files.status)) return true;
      if (takeClaim(files, 'agent')) return false;
      const shim = readJson<ProcessRef>(files.shim);
      if ((shim && !isAlive(shim)) || Date.now() > deadline) return existsSync(files.child) || existsSync(files.status);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** The spec's umask when it is one (the agent trusts no shell text from the master). */
const umaskOf = (spec: TaskRunSpec) => (spec.umask && /^0?[0-7]{3}$/.test(spec.umask) ? spec.umask : undefined);

/** setpriv's supplementary groups: exactly the spec's, or none. */
const groupsOption = (groups: ReadonlyArray<{ gid: number }>) => (groups.length > 0 ? `--groups=${groups.map((g) => g.gid).join(',')}` : '--clear-groups');

/** Where a mount goes on this machine: a path that exists (it is never created), of the same kind. */
function mountTarget(hostPath: string, containerPath: string): { path: string } | { refused: string } {
  let real: string;
  try {
    real = realpathSync(containerPath);
  } catch {
    return {
      refused: `the process executor mounts onto this machine's own directories and never creates one: ${containerPath} does not exist here (use a path that exists, or the docker executor)`,
    };
  }
  const covers = containerPathViolation(real);
  if (covers) return { refused: `${containerPath} is ${real} on this machine: ${covers.message}` };
  if (statSync(real).isDirectory() !== statSync(hostPath).isDirectory()) {
    return { refused: `cannot mount ${hostPath} at ${containerPath}: one is a directory and the other is not` };
  }
  return { path: real };
}

/** A shim, waiting for its job; a spare one boots at the lowest priority so it never slows a task starting. */
function spawnShim(priority = 19): ChildProcess {
  const shim = spawn(process.execPath, [SHIM], { detached: true, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  shim.on('error', () => undefined);
  shim.unref();
  (shim.channel as { unref?: () => void } | undefined)?.unref?.();
  if (priority !== 0) setPriority(shim, priority);
  return shim;
}

/** Only root may give a process its normal priority back, so only root lowers it. */
function setPriority(shim: ChildProcess, priority: number): void {
  if (process.getuid?.() !== 0 || shim.pid === undefined) return;
  try {
    os.setPriority(shim.pid, priority);
  } catch {
    // Gone already.
  }
}

function canUseMountNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('unshare', ['--mount', '--propagation', 'private', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
    execFileSync('setpriv', ['--version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}
