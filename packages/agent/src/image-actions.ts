import { createReadStream, createWriteStream, mkdirSync, rmSync, statfsSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { WebSocket, type RawData } from 'ws';
import { normalizeImage, type AgentAction, type ImageLayerProgress, type ImageReport, type LoadStreamControl, type LoadStreamResult } from '@trainyard/shared';
import { TarballNames } from '@trainyard/shared/tarball';
import type { PullEvent } from './executors/docker-engine.js';
import type { ImageStore } from './executors/executor.js';
import { MasterError } from './master-client.js';
import { opened } from './streams.js';

type ImageAction = Extract<AgentAction, { type: 'image-pull' | 'image-load' | 'image-remove' }>;

/** A pull's progress goes to the master at most this often. */
const REPORT_EVERY_MS = 500;
/** A load never leaves less than this free where it spools its tarball. */
const SPOOL_RESERVE_BYTES = 1024 ** 3;
/** How often (in bytes received) a load looks at the free space again. */
const SPACE_CHECK_EVERY = 64 * 1024 ** 2;
/** Messages of a load held in memory before the stream is paused until the disk catches up. */
const MAX_QUEUED = 16;

/**
 * What the agent does with `yard image pull|load|rm` (actions on its poll): through its executor's
 * engine, reporting to the master as it goes. An agent whose executor holds no images (the process
 * executor) says so for each. Each runs beside the poll, never blocking it.
 */
export class ImageActions {
  constructor(
    private readonly deps: {
      agentId: string;
      store: ImageStore | undefined;
      executor: string;
      /** Where load tarballs are spooled: `<work-dir>/image-loads`, 0700. */
      workDir: string;
      /** `--image-load-limit`: this machine's own limit on a tarball, below the master's `images.load_limit`. */
      loadLimit?: number;
      logger: Logger;
      report(operationId: string, report: ImageReport): Promise<unknown>;
      /** Dials back the master for a load's stream. */
      dial(streamId: string): WebSocket;
      /** Tells the master the images here now (before an action's end is reported, so `yard image list` agrees at once). */
      imagesChanged(): Promise<void>;
    },
  ) {}

  /** Tarballs a load was taking when the agent stopped: nothing will ever finish them. */
  clearSpool(): void {
    rmSync(path.join(this.deps.workDir, 'image-loads'), { recursive: true, force: true });
  }

  handle(action: ImageAction): void {
    const run = action.type === 'image-pull' ? this.pull(action) : action.type === 'image-remove' ? this.remove(action) : this.load(action);
    void run.catch((error: unknown) => this.deps.logger.error({ err: error, operation: action.operationId }, 'an image action failed unexpectedly'));
  }

  private get refusal(): string {
    return `agent ${this.deps.agentId} runs tasks with the ${this.deps.executor} executor, which holds no images`;
  }

  private async pull(action: Extract<ImageAction, { type: 'image-pull' }>): Promise<void> {
    const { store, logger } = this.deps;
    if (!store) return this.finalReport(action.operationId, { state: 'failed', message: this.refusal });
    const layers = new Map<string, ImageLayerProgress>();
    let status: string | null = `pulling ${action.image}`;
    let sentAt = 0;
    let pending: NodeJS.Timeout | undefined;
    const send = () => {
      clearTimeout(pending);
      pending = undefined;
      sentAt = Date.now();
      void this.deps.report(action.operationId, { state: 'running', status, layers: [...layers.values()] }).catch(() => undefined);
    };
    const onEvent = (event: PullEvent) => {
      const layered = event.id !== undefined && !/^Pulling from /.test(event.status ?? '');
      if (layered) {
        // Docker's later events of a layer (`Pull complete`) carry no sizes: what it said before is kept.
        const before = layers.get(event.id!);
        const total = event.progressDetail?.total ?? before?.total ?? null;
        const done = /complete/i.test(event.status ?? '');
        layers.set(event.id!, {
          id: event.id!,
          status: event.status ?? '',
          current: done ? total : (event.progressDetail?.current ?? before?.current ?? null),
          total,
        });
      } else if (event.status) {
        status = event.id ? `${event.id}: ${event.status}` : event.status;
      }
      const wait = REPORT_EVERY_MS - (Date.now() - sentAt);
      if (wait <= 0) send();
      else pending ??= setTimeout(send, wait);
    };
    logger.info({ operation: action.operationId, image: action.image }, 'pulling an image');
    send();
    try {
      await store.pull(action.image, onEvent);
    } catch (error) {
      clearTimeout(pending);
      logger.warn({ operation: action.operationId, image: action.image, err: engineMessage(error) }, 'the pull failed');
      return this.finalReport(action.operationId, { state: 'failed', message: `could not pull ${action.image}: ${engineMessage(error)}`, status, layers: [...layers.values()] });
    }
    clearTimeout(pending);
    await this.deps.imagesChanged();
    const imageId = await this.imageIdOf(action.image);
    await this.finalReport(action.operationId, { state: 'done', message: `pulled ${action.image}`, status, layers: [...layers.values()], imageId });
  }

  private async remove(action: Extract<ImageAction, { type: 'image-remove' }>): Promise<void> {
    const { store, logger } = this.deps;
    if (!store) return this.finalReport(action.operationId, { state: 'failed', message: this.refusal });
    try {
      await store.remove(action.image);
    } catch (error) {
      return this.finalReport(action.operationId, { state: 'failed', message: `could not remove ${action.image}: ${engineMessage(error)}` });
    }
    logger.info({ operation: action.operationId, image: action.image }, 'removed an image');
    await this.deps.imagesChanged();
    await this.finalReport(action.operationId, { state: 'done', message: `removed ${action.image}` });
  }

  /**
   * A load: the tarball comes on a stream the agent dials back, is spooled to a 0600 file in its
   * work directory (never more than `maxBytes`, never filling the disk: past either, it refuses,
   * deletes what it took and says why), its names read on the way. At the master's `end` (the
   * names the policy admitted) it checks the tarball names exactly those and loads it; at `abort`,
   * or a broken stream, it deletes what it took.
   */
  private async load(action: Extract<ImageAction, { type: 'image-load' }>): Promise<void> {
    const { store, logger } = this.deps;
    const ws = this.deps.dial(action.streamId);
    // The master sends as soon as the stream is open (its first bytes can come with the handshake's
    // answer): what comes before the spool file is ready is held here, in order. A message with no
    // listener would be lost, and the tarball with it.
    const early: Array<[RawData, boolean]> = [];
    const hold = (data: RawData, binary: boolean) => void early.push([data, binary]);
    ws.on('message', hold);
    const answer = (result: Omit<LoadStreamResult, 'type'>) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'result', ...result } satisfies LoadStreamResult));
      ws.close(1000);
    };
    try {
      await opened(ws);
    } catch (error) {
      logger.warn({ operation: action.operationId, err: (error as Error).message }, 'could not dial back the master for an image load');
      ws.terminate();
      return;
    }
    if (!store) return answer({ ok: false, message: this.refusal, imageIds: [], names: [] });
    const dir = path.join(this.deps.workDir, 'image-loads');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${action.operationId}.tar`);
    let out: WriteStream;
    try {
      out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
      await new Promise<void>((resolve, reject) => {
        out.once('open', () => resolve());
        out.once('error', reject);
      });
    } catch (error) {
      return answer({ ok: false, message: `cannot spool the tarball in ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, imageIds: [], names: [] });
    }
    out.on('error', (error: NodeJS.ErrnoException) => refuse(`agent ${this.deps.agentId} cannot write the tarball to ${dir}: ${error.code ?? error.message}; it dropped what it took`));
    const names = new TarballNames();
    const own = this.deps.loadLimit;
    const limit = own !== undefined && own < action.maxBytes ? own : action.maxBytes;
    const limitName = limit === action.maxBytes ? 'images.load_limit' : `agent ${this.deps.agentId}'s --image-load-limit`;
    const queue: Buffer[] = [];
    let bytes = 0;
    let nextSpaceCheck = 0;
    let stopped = false;
    let draining: Promise<void> = Promise.resolve();
    const cleanup = () => {
      out.destroy();
      rmSync(file, { force: true });
    };
    const refuse = (message: string) => {
      if (stopped) return;
      stopped = true;
      queue.length = 0;
      cleanup();
      logger.warn({ operation: action.operationId, bytes, reason: message }, 'refusing an image load');
      answer({ ok: false, message, imageIds: [], names: [] });
    };
    // One chunk at a time, to the file and the name reader; the stream pauses while the disk is behind.
    const drain = async () => {
      while (queue.length > 0 && !stopped) {
        const chunk = queue.shift()!;
        if (queue.length < MAX_QUEUED / 2) ws.resume();
        if (!out.write(chunk)) {
          await new Promise<void>((resolve) => {
            out.once('drain', () => resolve());
            out.once('close', () => resolve());
          });
        }
        await names.write(chunk);
      }
    };
    const done = new Promise<void>((resolve) => {
      const onMessage = (data: RawData, binary: boolean) => {
        if (stopped) return;
        if (binary) {
          const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
          bytes += chunk.length;
          if (bytes > limit) return refuse(`the tarball is larger than ${limitName} (${limit} bytes): agent ${this.deps.agentId} dropped what it took`);
          if (bytes >= nextSpaceCheck) {
            nextSpaceCheck = bytes + SPACE_CHECK_EVERY;
            const free = freeBytes(dir);
            if (free !== undefined && free - SPACE_CHECK_EVERY < SPOOL_RESERVE_BYTES) {
              return refuse(`agent ${this.deps.agentId} would fill its disk: ${free} bytes free in ${dir}, and it keeps ${SPOOL_RESERVE_BYTES} free; it dropped what it took`);
            }
          }
          queue.push(chunk);
          if (queue.length >= MAX_QUEUED) ws.pause();
          draining = draining.then(drain);
          return;
        }
        let control: LoadStreamControl;
        try {
          control = JSON.parse(data.toString()) as LoadStreamControl;
        } catch {
          return;
        }
        if (control.type === 'abort') {
          stopped = true;
          cleanup();
          logger.info({ operation: action.operationId, reason: control.reason }, 'the master stopped an image load');
          ws.close(1000);
          resolve();
          return;
        }
        if (control.type === 'end') void draining.then(() => this.finishLoad(action.operationId, file, out, names, control.names, bytes, answer)).finally(() => {
          stopped = true;
          cleanup();
          resolve();
        });
      };
      const onClose = () => {
        if (stopped) return resolve();
        stopped = true;
        cleanup();
        resolve();
      };
      // Swapped in one go, the held messages first: nothing can come between.
      ws.off('message', hold);
      ws.on('message', onMessage);
      for (const [data, binary] of early.splice(0)) onMessage(data, binary);
      ws.on('close', onClose);
      if (ws.readyState === WebSocket.CLOSED) onClose();
      ws.on('error', (error) => logger.warn({ operation: action.operationId, err: error.message }, 'an image load stream broke'));
    });
    await done;
  }

  /** The tarball is all here: it must name exactly what the master admitted; then the engine loads it. */
  private async finishLoad(
    operationId: string,
    file: string,
    out: WriteStream,
    names: TarballNames,
    admitted: string[],
    bytes: number,
    answer: (result: Omit<LoadStreamResult, 'type'>) => void,
  ): Promise<void> {
    const { store, logger } = this.deps;
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    const verdict = await names.end();
    const expected = [...admitted].sort().join(' ');
    if ('problem' in verdict || verdict.names.join(' ') !== expected) {
      const found = 'problem' in verdict ? verdict.problem : `it names ${verdict.names.join(', ')}`;
      return answer({ ok: false, message: `the tarball agent ${this.deps.agentId} received is not the one the master admitted (${found}); nothing was loaded`, imageIds: [], names: [] });
    }
    let loaded: { names: string[]; ids: string[] };
    try {
      loaded = await store!.load(createReadStream(file));
    } catch (error) {
      return answer({ ok: false, message: `docker load failed on agent ${this.deps.agentId}: ${engineMessage(error)}`, imageIds: [], names: [] });
    }
    // What the engine says it loaded must be what was admitted: anything else is taken away again.
    const strays = loaded.names.map(normalizeImage).filter((name) => !admitted.includes(name));
    for (const stray of strays) await store!.remove(stray).catch(() => undefined);
    await this.deps.imagesChanged();
    const imageIds = [...new Set([...loaded.ids, ...(await Promise.all(admitted.map((n) => this.imageIdOf(n)))).filter((id): id is string => id !== null)])];
    logger.info({ operation: operationId, names: admitted, bytes, imageIds }, 'loaded an image tarball');
    if (strays.length > 0) return answer({ ok: false, message: `the engine loaded names it was not given (${strays.join(', ')}): removed again`, imageIds, names: admitted });
    answer({ ok: true, message: `loaded ${admitted.join(', ')} (${bytes} bytes)`, imageIds, names: admitted });
  }

  private async imageIdOf(reference: string): Promise<string | null> {
    const images = await this.deps.store!.list().catch(() => []);
    return images.find((i) => [...i.tags, ...i.digests].some((ref) => normalizeImage(ref) === reference))?.id ?? null;
  }

  /** An action's end: retried while the master is unreachable (a refusal, such as an operation it forgot, is final). */
  private async finalReport(operationId: string, report: ImageReport): Promise<void> {
    for (let attempt = 0; attempt < 60; attempt++) {
      try {
        await this.deps.report(operationId, report);
        return;
      } catch (error) {
        if (error instanceof MasterError) {
          this.deps.logger.warn({ operation: operationId, err: error.message }, 'the master refused an image report');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}

/** The engine's own words: dockerode's errors wrap them as `(HTTP code 404) unexpected - <message>`. */
function engineMessage(error: unknown): string {
  const json = (error as { json?: { message?: string } }).json;
  const message = json?.message ?? (error as Error).message ?? String(error);
  return message.replace(/^\(HTTP code \d+\) [a-z ]+- /, '').trim();
}

/** Bytes free for an unprivileged writer where `dir` lives; undefined when the system cannot say. */
function freeBytes(dir: string): number | undefined {
  try {
    const stats = statfsSync(dir);
    return Number(stats.bavail) * Number(stats.bsize);
  } catch {
    return undefined;
  }
}
