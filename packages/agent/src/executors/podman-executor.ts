import { execFile, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TaskRunSpec } from '@trainyard/shared';
import { LineBuffer } from '../line-buffer.js';
import { connectTcp } from './connect-tcp.js';
import { interactiveEnvironment } from './docker-executor.js';
import { execInRun } from './exec-process.js';
import { finished, type Executor, type ExistingRun, type Run, type RunHooks, type RunOutcome } from './executor.js';
import { notItself } from './own-identity.js';

/**
 * A one-shot agent's executor for pools with `container: podman`: the task runs in its image with
 * rootless podman, started by the agent, which already is the task's user (inside a Slurm job).
 * `--userns=keep-id` keeps the user's uid and gid inside (files in bind mounts belong to them on
 * the host, and podman names the user in the container's passwd); every capability dropped but
 * those admitted, no-new-privileges, the admitted mounts only; the host's network (a notebook
 * answers on the node's loopback, where the agent connects; nothing is published). The image comes
 * from the user's own podman storage on the node, pulled as the spec's pull policy says. Cores,
 * memory and GPUs are Slurm's to confine (the job's cgroup), not podman's: GPUs are not passed into
 * the container yet. `globalArgs` go before every podman command (a site's `--runtime=runc
 * --cgroup-manager=cgroupfs` where there is no systemd user session, as inside Slurm jobs).
 */
export class PodmanExecutor implements Executor {
  readonly name = 'podman' as const;

  constructor(
    private readonly workDir: string,
    private readonly options: { globalArgs?: string[]; environment?: Record<string, string> } = {},
  ) {}

  describe(): string {
    return `rootless podman as uid ${process.getuid?.()}${this.options.globalArgs?.length ? ` (podman ${this.options.globalArgs.join(' ')})` : ''}, for one task`;
  }

  /** The podman storage is the user's, per node: which images it holds is not the master's concern. */
  async images(): Promise<null> {
    return null;
  }

  /** A one-shot agent never adopts a run: its job ends with it. */
  async findExisting(): Promise<ExistingRun[]> {
    return [];
  }

  async start(spec: TaskRunSpec, hooks: RunHooks): Promise<Run> {
    const refused = notItself(spec.runAs);
    if (refused) return finished({ state: 'FAILED', message: refused });
    const pulled = await this.ensureImage(spec, hooks);
    if (pulled) return finished({ state: 'FAILED', message: pulled });
    const name = `trainyard-task-${spec.taskId}-${spec.leaseId.slice(0, 8)}`;
    const dir = path.join(this.workDir, name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The environment in a 0600 file, never on the command line (every user of the node reads ps).
    const envFile = path.join(dir, 'env');
    writeFileSync(envFile, envLines(this.environment(spec)), { mode: 0o600 });
    const started = await this.podman(['run', '--detach', '--name', name, ...this.runOptions(spec, envFile), spec.image, ...spec.entrypoint]);
    if (started.code !== 0) {
      rmSync(dir, { recursive: true, force: true });
      await this.podman(['rm', '--force', '--ignore', name]);
      return finished({ state: 'FAILED', message: `podman could not start the task: ${started.stderr.trim().split('\n').pop() || `exit ${started.code}`}` });
    }
    await hooks.state('RUNNING');
    return this.follow(name, dir, spec, hooks);
  }

  /** Undefined when the image is there (pulled if the policy allows); else why the task cannot run. */
  private async ensureImage(spec: TaskRunSpec, hooks: RunHooks): Promise<string | undefined> {
    const present = (await this.podman(['image', 'exists', spec.image])).code === 0;
    if (present && spec.pull !== 'always') return undefined;
    if (!present && spec.pull === 'never') {
      return `image ${spec.image} is not in ${spec.runAs.user}'s podman storage on this node, and images.pull is never: load it there first (podman load or pull, as ${spec.runAs.user})`;
    }
    await hooks.state('PULLING');
    hooks.output('system', `[trainyard] pulling ${spec.image}`);
    const pull = await this.podman(['pull', '--quiet', spec.image]);
    return pull.code === 0 ? undefined : `could not pull ${spec.image}: ${pull.stderr.trim().split('\n').pop()}`;
  }

  /** The task's variables, then the job's (Slurm's allocation), then who it is and how its service is reached. */
  private environment(spec: TaskRunSpec): Record<string, string> {
    return {
      ...spec.environment,
      ...this.options.environment,
      HOME: spec.environment.HOME ?? '/tmp',
      USER: spec.runAs.user,
      LOGNAME: spec.runAs.user,
      ...Object.fromEntries(interactiveEnvironment(spec)),
    };
  }

  private runOptions(spec: TaskRunSpec, envFile: string): string[] {
    const { runAs, confinement } = spec;
    return [
      '--userns=keep-id',
      `--user=${runAs.uid}:${runAs.gid}`,
      '--network=host',
      '--cap-drop=all',
      ...confinement.capabilities.map((cap) => `--cap-add=${cap}`),
      '--security-opt=no-new-privileges',
      '--log-driver=k8s-file',
      '--pull=never',
      `--env-file=${envFile}`,
      ...(spec.umask && /^0?[0-7]{3}$/.test(spec.umask) ? [`--umask=${spec.umask}`] : []),
      ...spec.bindMounts.map((m) => `--volume=${m.hostPath}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}`),
    ];
  }

  private follow(name: string, dir: string, spec: TaskRunSpec, hooks: RunHooks): Run {
    let stopped = false;
    // The container's output as it comes, each stream apart (podman logs keeps them apart).
    const logs = spawn('podman', [...this.globalArgs, 'logs', '--follow', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout = new LineBuffer((line) => hooks.output('stdout', line));
    const stderr = new LineBuffer((line) => hooks.output('stderr', line));
    logs.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    logs.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const logsDone = new Promise<void>((resolve) => logs.on('close', () => resolve()));
    const done = (async (): Promise<RunOutcome> => {
      const waited = await this.podman(['wait', name]);
      await logsDone;
      stdout.flush();
      stderr.flush();
      const exitCode = Number(waited.stdout.trim());
      if (waited.code !== 0 || !Number.isInteger(exitCode)) return { state: 'LOST', message: `podman lost the container: ${waited.stderr.trim()}` };
      if (stopped) return { state: 'KILLED', exitCode };
      return exitCode === 0 ? { state: 'COMPLETED', exitCode: 0 } : { state: 'FAILED', exitCode };
    })();
    return {
      done,
      stop: async (graceMs) => {
        if (stopped) return;
        stopped = true;
        await this.podman(['stop', `--time=${Math.max(1, Math.ceil(graceMs / 1000))}`, name]);
      },
      cleanup: async () => {
        await this.podman(['rm', '--force', '--ignore', name]);
        rmSync(dir, { recursive: true, force: true });
      },
      // The host's network: the task's port is on this node's loopback.
      connect: async (port) => {
        if (!spec.ports.some((p) => p.container === port)) throw new Error(`port ${port} is not a port of this task`);
        return connectTcp('127.0.0.1', port);
      },
      exec: async (request) =>
        execInRun(['podman', ...this.globalArgs, 'exec', request.tty ? '--interactive=true' : '--interactive', ...(request.tty ? ['--tty'] : []), name, ...request.command], dir, processEnv(), request),
    };
  }

  private get globalArgs(): string[] {
    return this.options.globalArgs ?? [];
  }

  private podman(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile('podman', [...this.globalArgs, ...args], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 127) : 0;
        resolve({ code, stdout, stderr: error && !stderr ? error.message : stderr });
      });
    });
  }
}

/** `KEY=VALUE` lines for --env-file; a value with a newline cannot be written there and is refused by admission's schema anyway. */
function envLines(env: Record<string, string>): string {
  return Object.entries(env)
    .filter(([, value]) => !value.includes('\n'))
    .map(([key, value]) => `${key}=${value}\n`)
    .join('');
}

const processEnv = (): Record<string, string> => Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
