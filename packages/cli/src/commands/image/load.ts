import { createReadStream, statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { Args, Flags } from '@oclif/core';
import { ApiError, endpointPath, isErrorBody, TransportError } from '@trainyard/shared/client';
import type { ImageOperation } from '@trainyard/shared';
import { CommandFailure, YardCommand } from '../../base-command.js';
import { EXIT } from '../../lib/exit-status.js';
import { formatSize, operationView } from '../../lib/image-format.js';
import { failureOf, followOperation, OperationReporter } from '../../lib/image-operation.js';
import { outputFlags } from '../../lib/output.js';
import { upload } from '../../lib/upload.js';

/** How long an upload that broke off waits for its operation to end on the master before calling the master unreachable. */
const OPERATION_PATIENCE_MS = 60_000;

export default class ImageLoad extends YardCommand<typeof ImageLoad> {
  static override summary = 'Load a `docker save` tarball (gzipped or not; a FILE, or stdin) into the agents of a pool, under names your policy allows.';
  static override description =
    'The tarball streams through the master to every alive agent of --pool (default: the default pool) that holds images, ' +
    'or only --agent, as it is read: nothing keeps it whole. It may be at most images.load_limit (master.yaml), counted ' +
    'as it streams, on the master and on each agent; past it everything taken is dropped. Its names (its manifest.json ' +
    "and repositories) are read as it passes, and only loaded when your policy's images.load.allow admits each (by " +
    'default only your own prefix, user/<you>/...; change_config: any name) and nobody else loaded that name into the ' +
    "pool: otherwise nothing is loaded, naming the rule. The image's own USER changes nothing: tasks run as their " +
    'resolved uid:gid. `yard image rm` removes what you loaded. Audited as image.load.';
  static override examples = [
    '<%= config.bin %> image load tool.tar.gz',
    'docker save user/alice/tool:1 | gzip > tool.tar.gz && <%= config.bin %> image load tool.tar.gz --pool gpu',
    '<%= config.bin %> image load < tool.tar.gz',
    'docker save user/alice/tool:1 | <%= config.bin %> image load -',
  ];
  // ignoreStdin: oclif would otherwise read a piped tarball into memory as this argument's text.
  static override args = { file: Args.string({ description: 'the tarball; `-` or none: read it from stdin', ignoreStdin: true }) };
  static override flags = {
    pool: Flags.string({ summary: "Load it into this pool's agents (default: the default pool)." }),
    agent: Flags.string({ summary: 'Load it into this agent only.', exclusive: ['pool'] }),
    ...outputFlags,
  };

  async run(): Promise<ImageOperation> {
    const { pool, agent } = this.flags;
    const { body, size, label } = this.input();
    const session = await this.session();
    const started = await session.call('images.loadStart', { body: { pool, agent, size } });
    const taking = started.agents.filter((a) => a.state !== 'skipped').map((a) => a.agent);
    process.stderr.write(`Loading ${label}${size === undefined ? '' : ` (${formatSize(size)})`} into ${taking.join(', ')} (pool ${started.pool}, operation ${started.id})\n`);
    for (const skipped of started.agents.filter((a) => a.state === 'skipped')) process.stderr.write(`${skipped.agent}: skipped: ${skipped.message}\n`);
    const progress = new UploadProgress(size);
    let answer;
    try {
      answer = await upload({
        master: this.master,
        path: endpointPath('images.loadData', { params: { id: started.id } }),
        token: await session.bearer(),
        body,
        ...(size === undefined ? {} : { size }),
        contentType: 'application/octet-stream',
        userAgent: `yard/${this.config.version} node/${process.versions.node}`,
        onSent: (bytes) => progress.update(bytes),
      });
    } catch (error) {
      progress.done();
      // The connection went without an answer we could read: a master that stops reading (a limit
      // reached, every agent gone) drops the connection, and a write can fail before its answer is
      // read. The operation, followed to its end, says why; only a master we cannot ask is unreachable.
      const ended = await Promise.race([
        followOperation(session, started, new OperationReporter(() => {})),
        delay(OPERATION_PATIENCE_MS, undefined, { ref: false }),
      ]).catch(() => undefined);
      // (The master's message, as its answer would have said it; else each agent's.)
      if (!ended) throw new TransportError('unreachable', 0, this.master, error);
      const failure = ended.message ? new CommandFailure('IMAGE_LOAD_FAILED', ended.message) : failureOf(ended, `load of ${label}`);
      if (failure) throw failure;
      // It loaded: only the answer was lost.
      answer = { status: 200, body: ended };
    }
    progress.done();
    if (answer.status >= 400) {
      if (isErrorBody(answer.body)) throw new ApiError(answer.status, answer.body.error.code, answer.body.error.message, answer.body.error.details);
      throw new TransportError('http', answer.status, this.master);
    }
    const ended = await followOperation(session, answer.body as ImageOperation, new OperationReporter());
    await this.print({ data: ended, items: ended.agents, view: operationView });
    const failure = failureOf(ended, `load of ${ended.images.join(', ') || label}`);
    if (failure) throw failure;
    return ended;
  }

  /** The tarball: FILE (its size known, so a file over the limit is refused before it is sent), or stdin. */
  private input(): { body: Readable; size?: number; label: string } {
    const file = this.args.file;
    if (file === undefined || file === '-') {
      if (process.stdin.isTTY) this.error('give a tarball: yard image load FILE, or pipe it in (yard image load < image.tar.gz)', { exit: EXIT.USAGE });
      return { body: process.stdin, label: 'the tarball from stdin' };
    }
    let stats;
    try {
      stats = statSync(file);
    } catch (error) {
      throw new CommandFailure('NO_INPUT', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    if (!stats.isFile()) return { body: createReadStream(file), label: file };
    return { body: createReadStream(file), size: stats.size, label: file };
  }
}

/** The bytes sent, on stderr: one line rewritten on a terminal, a line every few seconds otherwise. */
class UploadProgress {
  private last = 0;
  private said = false;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly size: number | undefined) {}

  update(bytes: number): void {
    const now = Date.now();
    if (now - this.last < (this.tty ? 200 : 5000)) return;
    this.last = now;
    this.said = true;
    const of = this.size ? ` of ${formatSize(this.size)} (${Math.floor((bytes / this.size) * 100)}%)` : '';
    process.stderr.write(this.tty ? `\r\x1b[Ksent ${formatSize(bytes)}${of}` : `sent ${formatSize(bytes)}${of}\n`);
  }

  /** Ends the rewritten line; once, though an upload that broke off and then loaded calls it twice. */
  done(): void {
    if (this.tty && this.said) process.stderr.write('\n');
    this.said = false;
  }
}
