import Docker from 'dockerode';
import tar from 'tar-stream';
import type { Duplex, Readable } from 'node:stream';
import type { AgentImage } from '@trainyard/shared';

/** Only what the Docker executor uses of dockerode (Docker, or Podman's Docker API). */
export interface ContainerEngine {
  ping(): Promise<void>;
  version(): Promise<string>;
  /** The local image's id, or undefined when it is not on this machine. */
  imageId(image: string): Promise<string | undefined>;
  /** The image's own ENTRYPOINT (empty when it has none) and WORKDIR (`/` when it sets none). */
  imageConfig(imageId: string): Promise<{ entrypoint: string[]; workingDir: string }>;
  /** Every tag and digest of the images on this machine. */
  imageReferences(): Promise<string[]>;
  /** Every image with its tags, digests, size and creation time (`yard image list`). */
  listImages(): Promise<AgentImage[]>;
  /** Pulls `image`, handing each of the engine's progress events to `progress` as it comes; rejects with the engine's reason. */
  pull(image: string, progress?: (event: PullEvent) => void): Promise<void>;
  /** `docker load` of a tarball: what the engine said it loaded (`Loaded image: name:tag`, `Loaded image ID: sha256:...`). */
  load(tarball: Readable): Promise<{ names: string[]; ids: string[] }>;
  /** `docker image rm` of a tag or digest, never forced: an image a container uses stays (the engine's 409 says why). */
  removeImage(reference: string): Promise<void>;
  create(options: Docker.ContainerCreateOptions): Promise<string>;
  /** A file from a container's file system (for a container never started: the image's own). */
  readFile(containerId: string, path: string): Promise<string | undefined>;
  /** Whether a path exists in a container's file system (links followed by the engine as it resolves it). */
  exists(containerId: string, path: string): Promise<boolean>;
  /** Owner, group, mode and kind of a path in a container's file system (not followed if a link); undefined when missing. */
  stat(containerId: string, path: string): Promise<PathStat | undefined>;
  start(containerId: string): Promise<void>;
  logs(containerId: string, follow: boolean): Promise<Readable>;
  wait(containerId: string): Promise<number>;
  stop(containerId: string, graceSeconds: number): Promise<void>;
  remove(containerId: string): Promise<void>;
  /** The container's address on its network (the default bridge, or the first network it is on), and the ports it exposes (`8888/tcp`). */
  address(containerId: string): Promise<{ ip: string | undefined; exposed: string[] }>;
  /** Runs a command in a running container; `stream` carries stdin and output (multiplexed frames without a TTY). */
  exec(containerId: string, options: { Cmd: string[]; Env: string[]; Tty: boolean }): Promise<EngineExec>;
  /** Containers with `label`; `state` is the engine's: created (never started), running, exited... */
  listByLabel(label: string): Promise<Array<{ id: string; state: string; labels: Record<string, string> }>>;
}

export interface PathStat {
  type: 'directory' | 'file' | 'link' | 'other';
  uid: number;
  gid: number;
  /** Permission bits (0o7777). */
  mode: number;
}

/** One line of the engine's pull progress, as Docker reports it. */
export interface PullEvent {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
}

export interface EngineExec {
  stream: Duplex;
  resize(cols: number, rows: number): Promise<void>;
  exitCode(): Promise<number>;
}

const isStatus = (error: unknown, status: number) => (error as { statusCode?: number }).statusCode === status;

/** dockerode against DOCKER_HOST (or the default socket). */
export function dockerEngine(options: Docker.DockerOptions = {}): ContainerEngine {
  const docker = new Docker(options);
  /** A path of a container's file system as a tar stream (`GET /archive`); undefined when it is missing. */
  const archiveOf = async (containerId: string, path: string): Promise<Readable | undefined> => {
    try {
      return (await docker.getContainer(containerId).getArchive({ path })) as unknown as Readable;
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  };
  return {
    async ping() {
      await docker.ping();
    },
    async version() {
      const v = await docker.version();
      return `${v.Components?.[0]?.Name ?? 'Engine'} ${v.Version} (API ${v.ApiVersion})`;
    },
    async imageId(image) {
      try {
        return (await docker.getImage(image).inspect()).Id;
      } catch (error) {
        if (isStatus(error, 404)) return undefined;
        throw error;
      }
    },
    async imageConfig(imageId) {
      const config = (await docker.getImage(imageId).inspect()).Config;
      const entrypoint = config?.Entrypoint as string[] | string | null | undefined;
      return {
        entrypoint: !entrypoint ? [] : typeof entrypoint === 'string' ? ['/bin/sh', '-c', entrypoint] : entrypoint,
        workingDir: config?.WorkingDir || '/',
      };
    },
    async imageReferences() {
      const images = await docker.listImages();
      return images.flatMap((i) => [...(i.RepoTags ?? []), ...(i.RepoDigests ?? [])]).filter((ref) => !ref.startsWith('<none>'));
    },
    async listImages() {
      const images = await docker.listImages();
      return images.map((i) => ({
        id: i.Id,
        tags: (i.RepoTags ?? []).filter((ref) => !ref.startsWith('<none>')),
        digests: (i.RepoDigests ?? []).filter((ref) => !ref.startsWith('<none>')),
        size: Math.max(0, i.Size ?? 0),
        created: Math.max(0, (i.Created ?? 0) * 1000),
      }));
    },
    async pull(image, progress) {
      const stream = (await docker.pull(image)) as Readable;
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(
          stream,
          (error) => (error ? reject(error) : resolve()),
          (event: PullEvent) => progress?.(event),
        ),
      );
    },
    async load(tarball) {
      const output = (await docker.loadImage(tarball, { quiet: true })) as unknown as Readable;
      const names: string[] = [];
      const ids: string[] = [];
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(
          output,
          (error) => (error ? reject(error) : resolve()),
          (event: { stream?: string }) => {
            for (const line of (event.stream ?? '').split('\n')) {
              const name = /^Loaded image: (.+)$/.exec(line.trim())?.[1];
              const id = /^Loaded image ID: (.+)$/.exec(line.trim())?.[1];
              if (name) names.push(name);
              if (id) ids.push(id);
            }
          },
        ),
      );
      return { names, ids };
    },
    async removeImage(reference) {
      await docker.getImage(reference).remove({ force: false, noprune: false });
    },
    async create(createOptions) {
      return (await docker.createContainer(createOptions)).id;
    },
    async readFile(containerId, path) {
      const archive = await archiveOf(containerId, path);
      if (!archive) return undefined;
      return new Promise((resolve, reject) => {
        const extract = tar.extract();
        let content: string | undefined;
        extract.on('entry', (header, stream, next) => {
          const chunks: Buffer[] = [];
          stream.on('data', (c: unknown) => chunks.push(c as Buffer));
          stream.on('end', () => {
            if (header.type === 'file' && content === undefined) content = Buffer.concat(chunks).toString('utf8');
            next();
          });
          stream.resume();
        });
        extract.on('finish', () => resolve(content));
        extract.on('error', reject);
        archive.pipe(extract);
      });
    },
    async stat(containerId, path) {
      const archive = await archiveOf(containerId, path);
      if (!archive) return undefined;
      // The archive's first entry is the path itself: its header is all that is read (for `/`, the
      // rest would be the whole file system).
      return new Promise((resolve, reject) => {
        const extract = tar.extract();
        let done = false;
        const finish = (value: PathStat | undefined) => {
          if (done) return;
          done = true;
          resolve(value);
          archive.unpipe(extract);
          archive.destroy();
          extract.destroy();
        };
        extract.on('entry', (header) => {
          const type = header.type === 'directory' ? 'directory' : header.type === 'file' ? 'file' : header.type === 'symlink' ? 'link' : 'other';
          finish({ type, uid: header.uid ?? 0, gid: header.gid ?? 0, mode: (header.mode ?? 0) & 0o7777 });
        });
        extract.on('finish', () => finish(undefined));
        extract.on('error', (error) => (done ? undefined : reject(error)));
        archive.on('error', (error) => (done ? undefined : reject(error)));
        archive.pipe(extract);
      });
    },
    async exists(containerId, path) {
      try {
        await docker.getContainer(containerId).infoArchive({ path });
        return true;
      } catch (error) {
        if (isStatus(error, 404)) return false;
        throw error;
      }
    },
    async start(containerId) {
      await docker.getContainer(containerId).start();
    },
    async logs(containerId, follow) {
      const container = docker.getContainer(containerId);
      if (follow) {
        return (await container.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
      }
      const buffer = (await container.logs({ follow: false, stdout: true, stderr: true })) as unknown as Buffer;
      const { Readable: ReadableStream } = await import('node:stream');
      return ReadableStream.from([buffer]);
    },
    async wait(containerId) {
      const result = (await docker.getContainer(containerId).wait()) as { StatusCode: number };
      return result.StatusCode;
    },
    async stop(containerId, graceSeconds) {
      try {
        await docker.getContainer(containerId).stop({ t: graceSeconds });
      } catch (error) {
        // 304: already stopped; 404: already gone.
        if (!isStatus(error, 304) && !isStatus(error, 404)) throw error;
      }
    },
    async remove(containerId) {
      try {
        await docker.getContainer(containerId).remove({ force: true });
      } catch (error) {
        if (!isStatus(error, 404) && !isStatus(error, 409)) throw error;
      }
    },
    async address(containerId) {
      const { NetworkSettings, Config } = await docker.getContainer(containerId).inspect();
      const networks = Object.values(NetworkSettings.Networks ?? {});
      const ip = (NetworkSettings as { IPAddress?: string }).IPAddress || networks.find((n) => n.IPAddress)?.IPAddress || undefined;
      return { ip, exposed: Object.keys(Config.ExposedPorts ?? {}) };
    },
    async exec(containerId, options) {
      const exec = await docker.getContainer(containerId).exec({ ...options, AttachStdin: true, AttachStdout: true, AttachStderr: true });
      const stream = (await exec.start({ hijack: true, stdin: true, Tty: options.Tty })) as Duplex;
      return {
        stream,
        resize: async (cols, rows) => {
          await exec.resize({ w: cols, h: rows });
        },
        exitCode: async () => (await exec.inspect()).ExitCode ?? 255,
      };
    },
    async listByLabel(label) {
      const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
      return containers.map((c) => ({ id: c.Id, state: c.State, labels: c.Labels ?? {} }));
    },
  };
}
