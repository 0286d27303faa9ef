import { closeSync, existsSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { OutputStream } from '../executors/executor.js';
import { readJson, type RunFiles, type RunStatus } from './run-files.js';

const POLL_MS = 250;
/** A line of the output file that is the agent's own notice, not the task's (see run-files.ts). */
export const SYSTEM_TAG = 's';
const STREAMS: Record<string, OutputStream> = { o: 'stdout', e: 'stderr', [SYSTEM_TAG]: 'system' };
const CHUNK = 64 * 1024;

/**
 * Follows a run's output file as the shim writes it, line by line, skipping the lines the
 * master already has; ends once the run's status is written and every line after it was read.
 */
export class OutputTail {
  private position = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly files: RunFiles,
    private skip: number,
    private readonly emit: (stream: OutputStream, line: string) => void,
  ) {}

  /**
   * Resolves with the status once the run ended. `gone` says whether the shim and the task are
   * both gone; if they are and no status came, the run ended unrecorded: undefined.
   */
  follow(gone: () => boolean): Promise<RunStatus | undefined> {
    return new Promise((resolve) => {
      let goneTicks = 0;
      let finished = false;
      const check = () => {
        if (finished) return;
        this.read();
        const status = readJson<RunStatus>(this.files.status);
        if (status) {
          this.read();
          this.flushPartial();
          return finish(status);
        }
        // Gone twice in a row: not the moment between the shim's last write and its exit.
        goneTicks = gone() ? goneTicks + 1 : 0;
        if (goneTicks >= 2) finish(undefined);
      };
      const finish = (status: RunStatus | undefined) => {
        finished = true;
        this.watcher?.close();
        clearInterval(this.timer);
        resolve(status);
      };
      try {
        // inotify: a line shows at once; the interval is the safety net.
        this.watcher = watch(this.files.dir, () => check());
      } catch {
        this.watcher = undefined;
      }
      this.timer = setInterval(check, POLL_MS);
      check();
    });
  }

  private read(): void {
    if (!existsSync(this.files.output)) return;
    const fd = openSync(this.files.output, 'r');
    try {
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const n = readSync(fd, buffer, 0, CHUNK, this.position);
        if (n === 0) break;
        this.position += n;
        this.take(this.decoder.write(buffer.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
  }

  private take(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const record of lines) this.line(record);
  }

  private flushPartial(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest) this.line(rest);
  }

  private line(record: string): void {
    if (this.skip > 0) {
      this.skip--;
      return;
    }
    this.emit(STREAMS[record[0] ?? 'o'] ?? 'stdout', record.slice(1));
  }
}
