import { EventEmitter } from 'node:events';

/** In-process notifications so that `logs -f` and waiting agents wake at once instead of polling. */
export class TaskEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  /** Logs were appended to, or the state of, task `id` changed. */
  changed(id: number): void {
    this.emitter.emit(`task:${id}`);
  }

  /** Resolves when task `id` changes, or after `ms`. */
  waitForChange(id: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.emitter.off(`task:${id}`, done);
        resolve();
      };
      const timer = setTimeout(done, ms).unref(); // as the scheduler's long polls
      this.emitter.on(`task:${id}`, done);
    });
  }
}
