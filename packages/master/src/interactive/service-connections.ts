import type { Duplex } from 'node:stream';

/** At most this many requests to one task's service at once; more wait for a connection to come free. */
const MAX_ACTIVE = 16;
/** Idle connections close after 4 s, before a service's own keep-alive timeout (Node's default is 5 s) could race a reuse. */
const IDLE_MS = 4000;

/**
 * Keep-alive connections to one task's service, each a stream its agent dialled back, so that a
 * page's many requests do not each cost a dial-back. A connection is lent for one request and its
 * answer (`acquire`), then given back fit for another or not (`release`).
 */
export class ServiceConnections {
  private readonly idle: Duplex[] = [];
  /** How each idle connection is dropped: its listeners and timer, removed when it is lent again. */
  private readonly idling = new Map<Duplex, { drop: () => void; timer: NodeJS.Timeout }>();
  private readonly waiting: Array<{ resolve(stream: Duplex): void; reject(error: Error): void }> = [];
  private active = 0;
  private closed = false;

  constructor(private readonly dial: () => Promise<Duplex>) {}

  /** A connection for one request: an idle one, a new one, or the next one given back when MAX_ACTIVE are out. */
  acquire(): Promise<Duplex> {
    if (this.closed) return Promise.reject(new Error('the task ended'));
    const idle = this.idle.pop();
    if (idle) {
      this.active++;
      this.stopIdling(idle);
      return Promise.resolve(idle);
    }
    if (this.active >= MAX_ACTIVE) return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.active++;
    return this.dial().then(
      (stream) => {
        // Errors while a connection is idle or between requests show as its closing.
        stream.on('error', () => undefined);
        return stream;
      },
      (error: Error) => {
        this.active--;
        this.next();
        throw error;
      },
    );
  }

  /** Gives a lent connection back: kept for the next request when `reusable` (the answer ended as its framing said), else closed. */
  release(stream: Duplex, reusable: boolean): void {
    this.active--;
    if (!reusable || this.closed || stream.destroyed || !stream.writable) stream.destroy();
    else this.keepIdle(stream);
    this.next();
  }

  /** Closes every idle connection; lent ones close as they are given back. */
  close(): void {
    this.closed = true;
    for (const stream of this.idle.splice(0)) {
      this.stopIdling(stream);
      stream.destroy();
    }
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('the task ended'));
  }

  /** A connection came free (or a slot did): the longest waiter gets it. */
  private next(): void {
    const waiter = this.waiting.shift();
    if (!waiter) return;
    this.acquire().then(waiter.resolve, waiter.reject);
  }

  /** Idle: closed after IDLE_MS, or at once if the service closes it or sends anything unasked. */
  private keepIdle(stream: Duplex): void {
    const drop = () => {
      this.stopIdling(stream);
      const at = this.idle.indexOf(stream);
      if (at >= 0) this.idle.splice(at, 1);
      stream.destroy();
    };
    const timer = setTimeout(drop, IDLE_MS);
    timer.unref();
    this.idling.set(stream, { drop, timer });
    stream.on('data', drop).on('end', drop).on('close', drop).on('error', drop);
    stream.resume();
    this.idle.push(stream);
  }

  private stopIdling(stream: Duplex): void {
    const entry = this.idling.get(stream);
    if (!entry) return;
    this.idling.delete(stream);
    clearTimeout(entry.timer);
    stream.off('data', entry.drop).off('end', entry.drop).off('close', entry.drop).off('error', entry.drop);
  }
}
