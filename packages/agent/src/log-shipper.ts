import type { MasterClient } from './master-client.js';
import { MasterError } from './master-client.js';
import type { OutputStream } from './executors/executor.js';

const MAX_BATCH = 1000;
const FLUSH_MS = 150;

/**
 * Sends one run's output to the master in order, one batch at a time, each stamped with how
 * many lines went before it: a batch resent after a lost answer is not stored twice.
 */
export class LogShipper {
  private queue: Array<{ stream: OutputStream; line: string }> = [];
  private sending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: MasterClient,
    private readonly taskId: number,
    private readonly leaseId: string,
    private offset: number,
    private readonly onError: (error: Error) => void,
  ) {}

  push(stream: OutputStream, line: string): void {
    if (this.stopped) return;
    this.queue.push({ stream, line });
    // Idle: send at once (the first line of a task shows without delay). Busy: lines gather into
    // the next batch, sent when the one in flight is answered or after FLUSH_MS.
    if (!this.busy || this.queue.length >= MAX_BATCH) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), FLUSH_MS);
  }

  private busy = false;

  /** Everything queued so far, delivered (or given up on, when the lease is gone). */
  async flush(): Promise<void> {
    this.kick();
    await this.sending;
    if (this.queue.length > 0 && !this.stopped) await this.flush();
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sending = this.sending.then(() => this.sendAll());
  }

  private async sendAll(): Promise<void> {
    this.busy = true;
    try {
      await this.sendQueued();
    } finally {
      this.busy = false;
    }
  }

  private async sendQueued(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.slice(0, MAX_BATCH);
      try {
        const { received } = await this.client.sendLogs(this.taskId, { leaseId: this.leaseId, offset: this.offset, lines: batch });
        if (received < this.offset) {
          // The master holds fewer lines than we thought (a restart mid-batch): go on from there.
          this.offset = received;
          continue;
        }
        // `received` counts what the master holds of this run: drop what it has, resend what it lacks.
        const accepted = Math.min(received - this.offset, batch.length);
        this.queue.splice(0, accepted === 0 ? batch.length : accepted);
        this.offset += accepted;
      } catch (error) {
        if (error instanceof MasterError) {
          // The lease is gone (run ended elsewhere, task killed or lost): nobody wants these lines.
          this.stopped = true;
          this.queue = [];
          this.onError(error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}
