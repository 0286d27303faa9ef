import type { ImageOperation } from '@trainyard/shared';
import { CommandFailure } from '../base-command.js';
import { escapeText } from './escape.js';
import { describePart } from './image-format.js';
import type { Session } from './session.js';

/** How long one long poll on an operation is held (the client's request timeout adds this on top). */
const LONG_POLL_SECONDS = 20;
/** A line per agent at most this often while its part goes on (its end is said at once). */
const PROGRESS_EVERY_MS = 1000;

/**
 * Says on stderr how each agent's part of an image operation goes, as it changes: `gpu-1: 2/3 layers
 * done, 12MB of 45MB downloading`, `gpu-1: done: pulled 127.0.0.1:5000/team/tool:1`. Stdout stays
 * the final table (or the JSON).
 */
export class OperationReporter {
  private readonly said = new Map<string, { text: string; at: number }>();

  constructor(private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {}

  update(operation: ImageOperation): void {
    const now = Date.now();
    for (const part of operation.agents) {
      const text = describePart(part, operation.kind);
      const last = this.said.get(part.agent);
      if (last?.text === text) continue;
      const ended = part.state !== 'waiting' && part.state !== 'running';
      if (last && !ended && now - last.at < PROGRESS_EVERY_MS) continue;
      this.said.set(part.agent, { text, at: now });
      this.write(`${escapeText(part.agent)}: ${escapeText(text)}`);
    }
  }
}

/** Follows an operation until every agent's part ended, reporting each change; returns it as it ended. */
export async function followOperation(session: Session, start: ImageOperation, report: OperationReporter): Promise<ImageOperation> {
  let operation = start;
  report.update(operation);
  while (!operation.done) {
    operation = await session.call('images.operation', { params: { id: operation.id }, query: { wait: LONG_POLL_SECONDS, seen: operation.version } });
    report.update(operation);
  }
  return operation;
}

/** An operation that did not succeed everywhere it was asked: yard exits 1, naming each agent's reason. */
export function failureOf(operation: ImageOperation, what: string): CommandFailure | undefined {
  const failed = operation.agents.filter((a) => a.state === 'failed');
  if (failed.length === 0 && operation.agents.some((a) => a.state === 'done')) return undefined;
  const reasons = failed.length > 0 ? failed.map((a) => `${a.agent}: ${a.message ?? 'failed'}`).join('; ') : (operation.message ?? 'no agent did it');
  return new CommandFailure('IMAGE_OPERATION_FAILED', `the ${what} failed on ${failed.length > 0 ? `${failed.length} of ${operation.agents.length} agents` : 'every agent'}: ${reasons}`);
}
