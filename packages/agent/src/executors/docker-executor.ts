import type { TaskRunSpec } from '@trainyard/shared';
import { withIdentity } from '../identity-files.js';
import { LineBuffer } from '../line-buffer.js';
import type { ContainerEngine } from './docker-engine.js';
import { DockerFrameParser } from './docker-frames.js';
import type { Executor, ExistingRun, Run, RunHooks, RunOutcome } from './executor.js';

const LABEL_AGENT = 'trainyard.agent';
const LABEL_TASK = 'trainyard.task';
const LABEL_LEASE = 'trainyard.lease';

/**
 * Runs each task in a container as the task's uid:gid, with every capability dropped and
 * no-new-privileges, the config's bind mounts, environment and cpu/memory limits. The uid's
 * name is written into the container's /etc/passwd and /etc/group before it starts.
 */
export class DockerExecutor implements Executor {
  readonly name = 'docker' as const;
  private readonly accounts = new Map<string, { passwd: string; group: string }>();

  constructor(
    private readonly engine: ContainerEngine,
    private readonly agentId: string,
    private readonly engineVersion: string,
  ) {}

  describe(): string {
    return `docker executor (${this.engineVersion})`;
  }

  async start(spec: TaskRunSpec, hooks: RunHooks): Promise<Run> {
    const { engine } = this;
    let imageId = await engine.imageId(spec.image);
    if (!imageId) {
      if (!spec.allowPull) {
        return finished({
          state: 'FAILED',
          message: `image ${spec.image} is not on agent ${this.agentId}, and pulling is off (master.yaml agents.allow_pull)`,
        });
      }
      await hooks.state('PULLING');
      hooks.output('system', `[trainyard] pulling ${spec.image}`);
      try {
        await engine.pull(spec.image);
        imageId = await engine.imageId(spec.image);
      } catch (error) {
        return finished({ state: 'FAILED', message: `could not pull ${spec.image}: ${(error as Error).message}` });
      }
    }
    const { runAs } = spec;
    const home = '/tmp';
    const id = await engine.create({
      name: `yard-task-${spec.taskId}-${spec.leaseId.slice(0, 8)}`,
      Image: spec.image,
      Cmd: spec.entrypoint,
      User: `${runAs.uid}:${runAs.gid}`,
      Env: [
        ...Object.entries(spec.environment).map(([k, v]) => `${k}=${v}`),
        `HOME=${home}`,
        `USER=${runAs.user}`,
        `LOGNAME=${runAs.user}`,
        `TRAINYARD_TASK_ID=${spec.taskId}`,
      ],
      Labels: { [LABEL_AGENT]: this.agentId, [LABEL_TASK]: String(spec.taskId), [LABEL_LEASE]: spec.leaseId },
      Tty: false,
      HostConfig: {
        Binds: spec.bindMounts.map((m) => `${m.host_path}:${m.container_path}:${m.read_only ? 'ro' : 'rw'}`),
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        ...(spec.resources.cpu ? { NanoCpus: Math.round(spec.resources.cpu * 1e9) } : {}),
        ...(spec.resources.memory ? { Memory: spec.resources.memory } : {}),
        ...(spec.resources.slots > 0
          ? { DeviceRequests: [{ Driver: 'nvidia', Count: spec.resources.slots, Capabilities: [['gpu']] }] }
          : {}),
      },
    });
    try {
      const base = await this.imageAccounts(id, imageId ?? spec.image);
      const files = withIdentity(base.passwd, base.group, runAs, home);
      await engine.writeFiles(id, [
        { path: '/etc/passwd', content: files.passwd, mode: 0o644 },
        { path: '/etc/group', content: files.group, mode: 0o644 },
      ]);
      await engine.start(id);
    } catch (error) {
      await engine.remove(id).catch(() => undefined);
      return finished({ state: 'FAILED', message: `could not start the container: ${(error as Error).message}` });
    }
    await hooks.state('RUNNING');
    return this.follow(id, hooks, 0);
  }

  /** An image's own /etc/passwd and /etc/group, read once per image id (images do not change). */
  private async imageAccounts(containerId: string, imageId: string): Promise<{ passwd: string; group: string }> {
    let cached = this.accounts.get(imageId);
    if (!cached) {
      const [passwd, group] = await Promise.all([
        this.engine.readFile(containerId, '/etc/passwd'),
        this.engine.readFile(containerId, '/etc/group'),
      ]);
      cached = { passwd: passwd ?? '', group: group ?? '' };
      this.accounts.set(imageId, cached);
    }
    return cached;
  }

  async findExisting(): Promise<ExistingRun[]> {
    const containers = await this.engine.listByLabel(`${LABEL_AGENT}=${this.agentId}`);
    return containers.map((c) => ({
      taskId: Number(c.labels[LABEL_TASK]),
      leaseId: c.labels[LABEL_LEASE] ?? '',
      adopt: (hooks: RunHooks, skipLines: number) => Promise.resolve(this.follow(c.id, hooks, skipLines)),
      discard: async () => {
        await this.engine.stop(c.id, 1).catch(() => undefined);
        await this.engine.remove(c.id);
      },
    }));
  }

  /** Streams a container's output from the start (skipping what was sent), waits for it, removes it. */
  private follow(id: string, hooks: RunHooks, skipLines: number): Run {
    const { engine } = this;
    let stopped = false;
    let skip = skipLines;
    const emit = (stream: 'stdout' | 'stderr') => (line: string) => {
      if (skip > 0) skip--;
      else hooks.output(stream, line);
    };
    const buffers = { stdout: new LineBuffer(emit('stdout')), stderr: new LineBuffer(emit('stderr')) };
    const parser = new DockerFrameParser((stream, payload) => buffers[stream].push(payload));

    const done = (async (): Promise<RunOutcome> => {
      const logs = await engine.logs(id, true);
      const drained = new Promise<void>((resolve) => {
        logs.on('data', (chunk: Buffer) => parser.push(chunk));
        logs.on('end', resolve);
        logs.on('close', resolve);
        logs.on('error', () => resolve());
      });
      const exitCode = await engine.wait(id);
      await drained;
      buffers.stdout.flush();
      buffers.stderr.flush();
      await engine.remove(id);
      if (stopped) return { state: 'KILLED', exitCode };
      return exitCode === 0 ? { state: 'COMPLETED', exitCode } : { state: 'FAILED', exitCode };
    })();

    return {
      done,
      stop: async (graceMs) => {
        stopped = true;
        await engine.stop(id, Math.max(1, Math.ceil(graceMs / 1000)));
      },
    };
  }
}

function finished(outcome: RunOutcome): Run {
  return { done: Promise.resolve(outcome), stop: async () => undefined };
}
