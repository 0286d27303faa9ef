import { lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crashPoint, proxyPath, UNIX_NAME_PATTERN, type TaskRunSpec } from '@trainyard/shared';
import { withIdentity } from '../identity-files.js';
import { LineBuffer } from '../line-buffer.js';
import type { ContainerEngine, PathStat } from './docker-engine.js';
import { connectTcp } from './connect-tcp.js';
import { DockerFrameParser } from './docker-frames.js';
import { finished, type ExecRequest, type ExecSession, type Executor, type ExistingRun, type ImageStore, type Run, type RunHooks, type RunOutcome } from './executor.js';

const LABEL_AGENT = 'trainyard.agent';
const LABEL_TASK = 'trainyard.task';
const LABEL_LEASE = 'trainyard.lease';
/**
 * The agent's own notices about the run (JSON list), shown ahead of the container's output: a
 * restarted agent replays them with it, so the lines the master already has (its log offset
 * counts these too) are skipped from the right place.
 */
const LABEL_NOTICES = 'trainyard.notices';
/** Throwaway containers that read an image's account files: never started, never mounted. */
const LABEL_PROBE = 'trainyard.identity-probe';
/**
 * The image's account files, whether it has a shell to set the umask with, its ENTRYPOINT, and its
 * WORKDIR with that directory's owner and mode (undefined: the image lacks it; the engine makes it, as root).
 */
type ImageAccounts = { passwd: string; group: string; shell: boolean; entrypoint: string[]; workingDir: string; workingDirStat: PathStat | undefined };

/**
 * Runs each task in a container as the task's uid:gid (and supplementary groups), with every
 * capability dropped but those admitted, no-new-privileges, the admitted bind mounts (`Mounts` of type bind: a missing host path fails,
 * it is never created), environment and cpu/memory limits. The uid's name resolves through
 * /etc/passwd and /etc/group built here from the image's own files and mounted read-only from the
 * agent's state directory: nothing is written into, or read through, the task's mounts.
 */
export class DockerExecutor implements Executor {
  readonly name = 'docker' as const;
  /** Per image id: its files as read from a container of that image with no mounts at all. */
  private readonly accounts = new Map<string, ImageAccounts>();
  private readonly identityRoot: string;

  constructor(
    private readonly engine: ContainerEngine,
    private readonly agentId: string,
    private readonly engineVersion: string,
    stateDir: string,
  ) {
    this.identityRoot = path.join(stateDir, 'identity');
    mkdirSync(this.identityRoot, { recursive: true, mode: 0o755 });
  }

  describe(): string {
    return `docker executor (${this.engineVersion})`;
  }

  /** Every tag and digest the engine has, for the master's `images.pull: never` (what runs without pulling). */
  images(): Promise<string[]> {
    return this.engine.imageReferences();
  }

  /** The engine's images, for `yard image list|pull|load|rm`. */
  get imageStore(): ImageStore {
    const { engine } = this;
    return {
      list: () => engine.listImages(),
      pull: (image, progress) => engine.pull(image, progress),
      load: (tarball) => engine.load(tarball),
      remove: (reference) => engine.removeImage(reference),
    };
  }

  async start(spec: TaskRunSpec, hooks: RunHooks): Promise<Run> {
    const { engine } = this;
    const notices: string[] = [];
    const notice = (line: string) => {
      notices.push(line);
      hooks.output('system', line);
    };
    let imageId = spec.pull === 'always' ? undefined : await engine.imageId(spec.image);
    if (!imageId) {
      if (spec.pull === 'never') {
        return finished({
          state: 'FAILED',
          message: `image ${spec.image} is not on agent ${this.agentId}, and the policy does not let agents pull it (images.pull: never); an admin loads it here, or allows pulling`,
        });
      }
      await hooks.state('PULLING');
      notice(`[trainyard] pulling ${spec.image}`);
      try {
        await engine.pull(spec.image);
        imageId = await engine.imageId(spec.image);
      } catch (error) {
        return finished({ state: 'FAILED', message: `could not pull ${spec.image}: ${(error as Error).message}` });
      }
      if (!imageId) return finished({ state: 'FAILED', message: `image ${spec.image} is still missing after the pull` });
    }
    const { runAs } = spec;
    const name = runName(spec.taskId, spec.leaseId);
    const identityDir = this.identityDir(name);
    let id: string | undefined;
    try {
      const base = await this.imageAccounts(imageId);
      const home = homeOf(base.passwd, runAs);
      const files = withIdentity(base.passwd, base.group, runAs, home.path);
      mkdirSync(identityDir, { recursive: true, mode: 0o755 });
      writeFileSync(path.join(identityDir, 'passwd'), files.passwd, { mode: 0o644 });
      writeFileSync(path.join(identityDir, 'group'), files.group, { mode: 0o644 });
      const command = withUmask(spec, base, notice);
      const workingDir = startDirectory(spec, base, home);
      if (workingDir !== base.workingDir) {
        notice(`[trainyard] the image's working directory ${base.workingDir} is not writable for uid ${runAs.uid}: the task starts in its home, ${home.path}`);
      }
      id = await engine.create({
        name: `yard-task-${name}`,
        Image: imageId,
        ...command,
        WorkingDir: workingDir,
        User: `${runAs.uid}:${runAs.gid}`,
        Env: [
          ...Object.entries(spec.environment).map(([k, v]) => `${k}=${v}`),
          `HOME=${home.path}`,
          `USER=${runAs.user}`,
          `LOGNAME=${runAs.user}`,
          ...interactiveEnvironment(spec).map(([k, v]) => `${k}=${v}`),
        ],
        Labels: {
          [LABEL_AGENT]: this.agentId,
          [LABEL_TASK]: String(spec.taskId),
          [LABEL_LEASE]: spec.leaseId,
          ...(notices.length > 0 ? { [LABEL_NOTICES]: JSON.stringify(notices) } : {}),
        },
        Tty: false,
        // Said, not published: nothing listens on the agent's network (the master reaches the port through the agent).
        ...(spec.ports.length > 0 ? { ExposedPorts: Object.fromEntries(spec.ports.map((p) => [`${p.container}/tcp`, {}])) } : {}),
        HostConfig: {
          Mounts: [
            ...spec.bindMounts.map((m) => bind(m.hostPath, m.containerPath, m.readOnly)),
            // Last, over anything a task mount might bring (the floor refuses mounts that cover them).
            bind(path.join(identityDir, 'passwd'), '/etc/passwd', true),
            bind(path.join(identityDir, 'group'), '/etc/group', true),
          ],
          // A home of its own, owned by the task's uid, in any image (one the image made for this uid is kept).
          ...(home.tmpfs ? { Tmpfs: { [home.path]: `uid=${runAs.uid},gid=${runAs.gid},mode=0700` } } : {}),
          // Every capability dropped, then only those the policy admitted (the agent's floor check refused any other).
          CapDrop: ['ALL'],
          ...(spec.confinement.capabilities.length > 0 ? { CapAdd: spec.confinement.capabilities } : {}),
          SecurityOpt: ['no-new-privileges'],
          Privileged: false,
          ...(runAs.supplementaryGroups.length > 0 ? { GroupAdd: runAs.supplementaryGroups.map((g) => String(g.gid)) } : {}),
          ...(spec.resources.cpu ? { NanoCpus: Math.round(spec.resources.cpu * 1e9) } : {}),
          ...(spec.resources.memory ? { Memory: spec.resources.memory } : {}),
          // No devices but the GPUs it was given.
          ...(spec.resources.gpus > 0 ? { DeviceRequests: [{ Driver: 'nvidia', Count: spec.resources.gpus, Capabilities: [['gpu']] }] } : {}),
        },
      });
      crashPoint('agent:after-create');
      await engine.start(id);
    } catch (error) {
      if (id) await engine.remove(id).catch(() => undefined);
      rmSync(identityDir, { recursive: true, force: true });
      return finished({ state: 'FAILED', message: `could not start the container: ${(error as Error).message}` });
    }
    crashPoint('agent:after-start');
    // Output flows from now on; the outcome is reported only after RUNNING (once `start` returned).
    // The notices were shown as they happened.
    const run = this.follow(id, identityDir, hooks, notices, notices.length);
    await hooks.state('RUNNING');
    return run;
  }

  /**
   * An image's own /etc/passwd and /etc/group, read from a container of that image that has no
   * mounts and is never started, once per image id (an image id names fixed content).
   */
  private async imageAccounts(imageId: string): Promise<ImageAccounts> {
    const cached = this.accounts.get(imageId);
    if (cached) return cached;
    const probe = await this.engine.create({
      Image: imageId,
      Entrypoint: ['/trainyard-identity-probe-never-runs'],
      Cmd: [],
      NetworkDisabled: true,
      Labels: { [LABEL_PROBE]: this.agentId },
      HostConfig: { CapDrop: ['ALL'], NetworkMode: 'none' },
    });
    try {
      const [passwd, group, shell, { entrypoint, workingDir }] = await Promise.all([
        this.engine.readFile(probe, '/etc/passwd'),
        this.engine.readFile(probe, '/etc/group'),
        this.engine.exists(probe, '/bin/sh'),
        this.engine.imageConfig(imageId),
      ]);
      const workingDirStat = await this.engine.stat(probe, workingDir);
      const files = { passwd: passwd ?? '', group: group ?? '', shell, entrypoint, workingDir, workingDirStat };
      this.accounts.set(imageId, files);
      return files;
    } finally {
      await this.engine.remove(probe).catch(() => undefined);
    }
  }

  async findExisting(): Promise<ExistingRun[]> {
    for (const probe of await this.engine.listByLabel(`${LABEL_PROBE}=${this.agentId}`)) await this.engine.remove(probe.id).catch(() => undefined);
    const containers = await this.engine.listByLabel(`${LABEL_AGENT}=${this.agentId}`);
    const runs = containers.map((c): ExistingRun => {
      const taskId = Number(c.labels[LABEL_TASK]);
      const leaseId = c.labels[LABEL_LEASE] ?? '';
      const identityDir = this.identityDir(runName(taskId, leaseId));
      return {
        taskId,
        leaseId,
        // The engine's "created": never started. Its wait would answer 0 as if it had run.
        started: c.state !== 'created',
        adopt: (hooks: RunHooks, skipLines: number) => Promise.resolve(this.follow(c.id, identityDir, hooks, noticesOf(c.labels), skipLines)),
        discard: async () => {
          await this.engine.stop(c.id, 1).catch(() => undefined);
          await this.engine.remove(c.id);
          rmSync(identityDir, { recursive: true, force: true });
        },
      };
    });
    // Identity files of runs whose container was never created.
    const kept = new Set(runs.map((r) => runName(r.taskId, r.leaseId)));
    for (const entry of readdirSync(this.identityRoot)) {
      if (!kept.has(entry)) rmSync(path.join(this.identityRoot, entry), { recursive: true, force: true });
    }
    return runs;
  }

  private identityDir(name: string): string {
    return path.join(this.identityRoot, name);
  }

  /**
   * A command in the running container, with a TTY or not. No user is named: the engine runs it as
   * the container's own user, the task's uid:gid with its supplementary groups.
   */
  private async exec(id: string, request: ExecRequest): Promise<ExecSession> {
    const exec = await this.engine.exec(id, {
      Cmd: request.command,
      Env: request.tty ? ['TERM=xterm-256color'] : [],
      Tty: request.tty,
    });
    const listeners: Array<(channel: 1 | 2, data: Buffer) => void> = [];
    const emit = (channel: 1 | 2, data: Buffer) => listeners.forEach((l) => l(channel, data));
    const parser = new DockerFrameParser((stream, payload) => emit(stream === 'stderr' ? 2 : 1, payload));
    exec.stream.on('data', (chunk: Buffer) => (request.tty ? emit(1, chunk) : parser.push(chunk)));
    const ended = new Promise<void>((resolve) => {
      exec.stream.on('end', resolve);
      exec.stream.on('close', resolve);
      exec.stream.on('error', () => resolve());
    });
    if (request.tty && request.cols && request.rows) await exec.resize(request.cols, request.rows).catch(() => undefined);
    return {
      write: (data) => exec.stream.write(data),
      endInput: () => exec.stream.end(),
      resize: (cols, rows) => void exec.resize(cols, rows).catch(() => undefined),
      onOutput: (listener) => listeners.push(listener),
      exit: ended.then(() => exec.exitCode()),
      kill: () => exec.stream.destroy(),
    };
  }

  /**
   * Streams the run's notices and its container's output from the start, skipping the first
   * `skipLines` of them (sent already), and waits for it; `cleanup` removes it.
   */
  private follow(id: string, identityDir: string, hooks: RunHooks, notices: string[], skipLines: number): Run {
    const { engine } = this;
    let stopped = false;
    for (const line of notices.slice(skipLines)) hooks.output('system', line);
    let skip = Math.max(0, skipLines - notices.length);
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
      if (stopped) return { state: 'KILLED', exitCode };
      return exitCode === 0 ? { state: 'COMPLETED', exitCode } : { state: 'FAILED', exitCode };
    })();

    return {
      done,
      stop: async (graceMs) => {
        stopped = true;
        await engine.stop(id, Math.max(1, Math.ceil(graceMs / 1000)));
      },
      connect: async (port) => {
        const { ip, exposed } = await engine.address(id);
        // Only the ports admitted with the task (its ExposedPorts), whatever a master asks.
        if (!exposed.includes(`${port}/tcp`)) throw new Error(`port ${port} is not a port of this task`);
        if (!ip) throw new Error('the container has no network address');
        return connectTcp(ip, port);
      },
      exec: (request) => this.exec(id, request),
      cleanup: async () => {
        await engine.remove(id);
        rmSync(identityDir, { recursive: true, force: true });
      },
    };
  }
}

/** What a task is told about its service: its id, where the master serves it (a base URL) and its port. */
export function interactiveEnvironment(spec: TaskRunSpec): Array<[string, string]> {
  const port = spec.ports[0]?.container;
  return [
    ['TRAINYARD_TASK_ID', String(spec.taskId)],
    ['TRAINYARD_PROXY_PATH', proxyPath(spec.taskId)],
    ...(port === undefined ? [] : [['TRAINYARD_PORT', String(port)] as [string, string]]),
  ];
}

/**
 * The task's HOME. When the image's own passwd has this very account (name and uid), its home is
 * kept: the image made it for them (busybox's /root, jupyter's /home/jovyan). Otherwise HOME is
 * `/home/<user>`, a tmpfs owned by the task's uid, so that it is a writable directory in any image.
 */
function homeOf(passwd: string, runAs: TaskRunSpec['runAs']): { path: string; tmpfs: boolean } {
  const own = passwd
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === runAs.user && fields[2] === String(runAs.uid));
  const imageHome = own?.[5];
  if (imageHome && imageHome.startsWith('/') && !['/', '/home', '/nonexistent'].includes(imageHome)) return { path: imageHome, tmpfs: false };
  // The master checked the name; a name that is not a Unix name never becomes a path here.
  return { path: `/home/${UNIX_NAME_PATTERN.test(runAs.user) ? runAs.user : `uid-${runAs.uid}`}`, tmpfs: true };
}

/**
 * Where the task starts: the image's WORKDIR when the task's uid can write it, else its HOME.
 * Images often assume their own user (jupyter's /home/jovyan belongs to uid 1000, many others
 * work in a root-owned /): under an assigned uid a notebook there could not save a file. Decided
 * here, before the start, from the directory's owner and mode in the image, or on the host where
 * a task mount covers it (tasks run without CAP_DAC_OVERRIDE, so uid 0 is held to the mode too).
 */
function startDirectory(spec: TaskRunSpec, image: ImageAccounts, home: { path: string; tmpfs: boolean }): string {
  const dir = path.posix.normalize(image.workingDir);
  const within = (root: string) => dir === root || dir.startsWith(`${root.replace(/\/$/, '')}/`);
  if (home.tmpfs && within(home.path)) return dir;
  // The innermost mount that holds it decides (the floor keeps mounts from covering each other's owner files).
  const mount = [...spec.bindMounts].sort((a, b) => b.containerPath.length - a.containerPath.length).find((m) => within(m.containerPath));
  let stat: PathStat | undefined;
  if (mount) {
    if (mount.readOnly) return home.path;
    stat = hostStat(path.join(mount.hostPath, path.posix.relative(mount.containerPath, dir)));
  } else {
    // Missing from the image: the engine makes it, owned by root, mode 0755.
    stat = image.workingDirStat ?? { type: 'directory', uid: 0, gid: 0, mode: 0o755 };
  }
  return stat && writableBy(stat, spec.runAs) ? dir : home.path;
}

/** Write and search permission on a directory, as the kernel decides it for a process without capabilities. */
export function writableBy(stat: PathStat, runAs: Pick<TaskRunSpec['runAs'], 'uid' | 'gid' | 'supplementaryGroups'>): boolean {
  if (stat.type !== 'directory') return false;
  if (stat.uid === runAs.uid) return (stat.mode & 0o300) === 0o300;
  if (stat.gid === runAs.gid || runAs.supplementaryGroups.some((g) => g.gid === stat.gid)) return (stat.mode & 0o030) === 0o030;
  return (stat.mode & 0o003) === 0o003;
}

function hostStat(file: string): PathStat | undefined {
  try {
    const stats = lstatSync(file);
    return { type: stats.isDirectory() ? 'directory' : stats.isSymbolicLink() ? 'link' : stats.isFile() ? 'file' : 'other', uid: stats.uid, gid: stats.gid, mode: stats.mode & 0o7777 };
  } catch {
    return undefined;
  }
}

/**
 * Docker has no umask option: a spec that asks for one (group shared directories: 0002, so that
 * files stay writable for the group) runs its command under the image's `/bin/sh`, which sets it and
 * `exec`s the command as the image would have run it (its ENTRYPOINT kept in front). An image
 * without /bin/sh runs with its own umask, and the task's log says so.
 */
function withUmask(spec: TaskRunSpec, image: ImageAccounts, notice: (line: string) => void): { Cmd: string[]; Entrypoint?: string[] } {
  if (!spec.umask) return { Cmd: spec.entrypoint };
  if (!/^0?[0-7]{3}$/.test(spec.umask)) {
    notice(`[trainyard] umask ${spec.umask} is not an octal umask: the image's own is kept`);
    return { Cmd: spec.entrypoint };
  }
  if (!image.shell) {
    notice(`[trainyard] the image has no /bin/sh to set umask ${spec.umask} with: files in shared directories may not be writable for the group`);
    return { Cmd: spec.entrypoint };
  }
  return { Entrypoint: ['/bin/sh', '-c', `umask ${spec.umask} && exec "$@"`, 'sh'], Cmd: [...image.entrypoint, ...spec.entrypoint] };
}

/** The notices a container's label keeps; none when it has no such label (or one that is not a list of lines). */
function noticesOf(labels: Record<string, string>): string[] {
  try {
    const notices: unknown = JSON.parse(labels[LABEL_NOTICES] ?? '[]');
    return Array.isArray(notices) ? notices.filter((line): line is string => typeof line === 'string') : [];
  } catch {
    return [];
  }
}

const runName = (taskId: number, leaseId: string) => `${taskId}-${leaseId.slice(0, 8)}`;

/** A bind mount that fails when its source is missing (`Binds` would create it, as root). */
const bind = (source: string, target: string, readOnly: boolean) => ({
  Type: 'bind' as const,
  Source: source,
  Target: target,
  ReadOnly: readOnly,
  BindOptions: { Propagation: 'rprivate' as const },
});
