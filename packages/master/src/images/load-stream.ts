import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { WebSocket, type RawData } from 'ws';
import type { LoadStreamControl, LoadStreamResult } from '@trainyard/shared';
import { TarballNames, type TarballVerdict } from '@trainyard/shared/tarball';

/** Bytes sent to one agent that its socket has not taken yet: past this, the upload waits for it. */
const HIGH_WATER = 4 * 1024 * 1024;

/**
 * One agent's end of a load: the WebSocket it dialled back. Sends keep at most HIGH_WATER bytes in
 * flight (so the upload goes at the pace of the slowest agent, and nothing piles up in the
 * master's memory); `result` is the agent's answer, or its stream closing without one.
 */
export class LoadTarget {
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  private answered = false;
  readonly result: Promise<LoadStreamResult>;

  constructor(
    readonly agent: string,
    private readonly ws: WebSocket,
  ) {
    this.result = new Promise((resolve) => {
      const answer = (result: LoadStreamResult) => {
        if (this.answered) return;
        this.answered = true;
        this.release();
        resolve(result);
      };
      ws.on('message', (data: RawData, binary: boolean) => {
        if (binary) return;
        try {
          const message = JSON.parse(data.toString()) as LoadStreamResult;
          if (message.type === 'result') answer(message);
        } catch {
          // Not ours: ignored.
        }
      });
      const gone = (why: string) => answer({ type: 'result', ok: false, message: why, imageIds: [], names: [] });
      ws.on('close', (_code, reason) => gone(`agent ${agent} closed the load stream${reason.length > 0 ? `: ${reason.toString()}` : ' without saying why'}`));
      ws.on('error', (error) => gone(`the load stream to agent ${agent} broke: ${error.message}`));
    });
  }

  /** Still taking bytes: it has not answered (an early answer is a refusal) and its stream is open. */
  get open(): boolean {
    return !this.answered && this.ws.readyState === WebSocket.OPEN;
  }

  send(chunk: Buffer): void {
    if (!this.open) return;
    this.inFlight += chunk.length;
    this.ws.send(chunk, { binary: true }, () => {
      this.inFlight -= chunk.length;
      if (this.inFlight <= HIGH_WATER) this.release();
    });
  }

  /** Resolves when this agent can take more (or will take nothing more). */
  room(): Promise<void> {
    if (!this.open || this.inFlight <= HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  control(message: LoadStreamControl): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }

  private release(): void {
    const waiters = this.waiters.splice(0);
    for (const waiter of waiters) waiter();
  }
}

/** Why an upload stopped before its end. */
export class LoadStopped extends Error {
  override name = 'LoadStopped';
  constructor(
    readonly reason: 'too_large' | 'no_agent' | 'broken',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Streams a `docker save` tarball (gzipped or not: its first bytes say) from `input` to every
 * target as it comes, decompressed, reading the names it gives its images on the way. Neither the
 * bytes as sent nor the tarball they make may pass `limit`: the count is kept as it streams, so a
 * file over it is refused once that many bytes passed, whatever its declared size. Nothing is
 * buffered beyond each agent's bytes in flight. Throws `LoadStopped`.
 */
export async function streamTarball(
  input: Readable,
  options: { limit: number; targets: LoadTarget[]; onBytes: (total: number) => void },
): Promise<{ verdict: TarballVerdict; bytes: number }> {
  const { limit, targets } = options;
  const names = new TarballNames();
  let total = 0;
  try {
    for await (const chunk of tarBytes(input, limit)) {
      total += chunk.length;
      if (total > limit) throw tooLarge(limit);
      await names.write(chunk);
      // Not a tar at all: no reason to send the rest anywhere.
      if (names.problem) return { verdict: { problem: names.problem }, bytes: total };
      const open = targets.filter((t) => t.open);
      if (open.length === 0) throw new LoadStopped('no_agent', 'no agent is taking the tarball any more');
      for (const target of open) target.send(chunk);
      await Promise.all(open.map((t) => t.room()));
      options.onBytes(total);
    }
  } catch (error) {
    if (error instanceof LoadStopped) throw error;
    throw new LoadStopped('broken', `the upload broke off after ${total} bytes: ${(error as Error).message}`);
  }
  return { verdict: await names.end(), bytes: total };
}

const tooLarge = (limit: number) => new LoadStopped('too_large', `the tarball is larger than images.load_limit (${limit} bytes)`);

/** The tarball's bytes: `input` as it comes, through gunzip when it starts with gzip's magic; at most `limit` bytes of it read. */
async function* tarBytes(input: Readable, limit: number): AsyncGenerator<Buffer> {
  let raw = 0;
  const counted = (async function* () {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      raw += chunk.length;
      if (raw > limit) throw tooLarge(limit);
      yield chunk;
    }
  })();
  // Enough of the start to tell gzip (1f 8b) from a tar.
  let head = Buffer.alloc(0);
  while (head.length < 2) {
    const next = await counted.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  if (head.length === 0) return;
  const rest = async function* () {
    yield head;
    yield* counted;
  };
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    yield* rest();
    return;
  }
  // Errors of the source (over the limit, the client gone) reach the gunzip stream, and the loop reading it.
  const gunzip = pipeline(Readable.from(rest()), createGunzip(), () => undefined);
  for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
}
