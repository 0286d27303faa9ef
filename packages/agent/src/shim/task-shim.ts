/**
 * The process executor's shim: a small detached process that owns one task's pipes, so that the
 * agent can die and come back without the task noticing. The agent keeps one idle shim ready; it
 * sends it a job over IPC. The shim takes the run's claim, starts the task in its own process
 * group, writes every output line to the run's output file and, once the task ended and its
 * output is complete, its exit status atomically. A restarted agent tails the file from the lines
 * already sent and reports the real outcome.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { LineBuffer } from '../line-buffer.js';
import { processRef, runFiles, takeClaim, writeJsonAtomic, type RunStatus, type ShimJob, type ShimReply } from './run-files.js';

let job: ShimJob | undefined;

// Idle, the shim lives only as long as its agent; with a job it outlives it.
process.on('disconnect', () => {
  if (!job) process.exit(0);
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
// While idle, start one trivial process: a task's start then runs code that is already compiled.
spawn('true', { stdio: 'ignore' }).on('error', () => undefined);
process.once('message', (message: ShimJob) => {
  job = message;
  run(message);
});

/** Answers the agent (if it is still there), then lets go of it. */
function reply(message: ShimReply): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(message, () => {
      if (process.connected) process.disconnect();
      resolve();
    });
  });
}

function run(work: ShimJob): void {
  const files = runFiles(work.dir);
  if (!takeClaim(files, 'shim')) {
    // A restarted agent gave this run up before it reached us: start nothing.
    void reply({ type: 'refused' }).then(() => process.exit(0));
    return;
  }
  writeJsonAtomic(files.shim, processRef(process.pid));
  const out = openSync(files.output, 'a', 0o600);
  const write = (tag: 'o' | 'e') => (line: string) => writeSync(out, `${tag}${line}\n`);
  const stdout = new LineBuffer(write('o'));
  const stderr = new LineBuffer(write('e'));
  let ended = false;
  const end = (status: RunStatus) => {
    if (ended) return;
    ended = true;
    stdout.flush();
    stderr.flush();
    closeSync(out);
    // Last, and atomically: once the status is there, the output file is complete.
    writeJsonAtomic(files.status, status);
  };

  const child = spawn(work.command, work.args, {
    cwd: work.cwd,
    env: work.env,
    // Its own process group, which the agent signals to stop the task and all it started.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(work.uid === undefined ? {} : { uid: work.uid }),
    ...(work.gid === undefined ? {} : { gid: work.gid }),
  });
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
  let replied = Promise.resolve();
  child.once('spawn', () => {
    const ref = processRef(child.pid!) ?? { pid: child.pid!, start: 'unknown' };
    writeJsonAtomic(files.child, ref);
    replied = reply({ type: 'spawned', child: ref });
  });
  child.once('error', (error) => {
    end({ error: `could not start ${work.command}: ${error.message}` });
    void reply({ type: 'error', message: error.message }).then(() => process.exit(0));
  });
  child.once('close', (exitCode, signal) => {
    end({ exitCode, signal });
    // A quick task may end before the agent heard that it started.
    void replied.then(() => process.exit(0));
  });
}
