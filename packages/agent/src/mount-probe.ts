import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** What a stat of one host path said: its real path, the error's code, or nothing in time (a hung mount). */
export type ProbeResult = { ok: true; real: string } | { ok: false; code: string } | { ok: false; hung: true };

/** The default time each path has to answer (`--mount-probe-timeout`, master.yaml `agents.mount_probe_timeout`). */
export const DEFAULT_MOUNT_PROBE_TIMEOUT_MS = 10_000;

/**
 * Run in a child process: stat (following links, which is what brings an automount up) and
 * realpath each path, one JSON line per path, after a first line that says it is ready.
 */
const PROBE_SCRIPT = `
const fs = require('node:fs');
process.stdout.write('ready\\n');
for (const p of JSON.parse(process.argv[1])) {
  let answer;
  try {
    fs.statSync(p);
    answer = { ok: true, real: fs.realpathSync(p) };
  } catch (error) {
    answer = { ok: false, code: error.code || String(error.message) };
  }
  process.stdout.write(JSON.stringify(answer) + '\\n');
}
`;

/**
 * Stats each path in a child process, so that a mount that never answers (a hung NFS server; an
 * automount that does not come up) blocks that child, never the agent's event loop or its file
 * system threads. Each path has `timeoutMs` to answer, counted from the answer before it; the first
 * that does not is `hung`, and the child is killed (a process stuck in an uninterruptible wait goes
 * when the mount answers; the agent does not wait for it). Paths after a hung one are not probed.
 */
export async function probePaths(paths: readonly string[], timeoutMs: number): Promise<Map<string, ProbeResult>> {
  const unique = [...new Set(paths)];
  const results = new Map<string, ProbeResult>();
  if (unique.length === 0) return results;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const child = spawn(process.execPath, ['-e', PROBE_SCRIPT, JSON.stringify(unique)], { stdio: ['ignore', 'pipe', 'ignore'], env });
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    let ready = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(startup);
      lines.close();
      child.stdout?.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      child.unref();
      if (error) reject(error);
      else resolve(results);
    };
    // Starting Node on a busy machine is not the mount's time: the clock runs from the child's first line.
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const hung = unique[results.size];
        if (hung !== undefined) results.set(hung, { ok: false, hung: true });
        finish();
      }, timeoutMs);
    };
    const startup = setTimeout(() => finish(new Error('the mount probe did not start within 60 s')), 60_000);
    lines.on('line', (line) => {
      if (!ready) {
        ready = line === 'ready';
        arm();
        return;
      }
      const path = unique[results.size];
      if (path === undefined) return;
      try {
        results.set(path, JSON.parse(line) as ProbeResult);
      } catch {
        results.set(path, { ok: false, code: 'the probe answered something unreadable' });
      }
      if (results.size === unique.length) finish();
      else arm();
    });
    // The child's output ended before every path was answered: it died (not a hang, which keeps it open).
    lines.on('close', () => finish(new Error(`the mount probe ended before it answered for ${unique[results.size] ?? 'every path'}`)));
    child.on('error', (error) => finish(new Error(`the mount probe could not run: ${error.message}`)));
  });
}

/** A probe result in words, for the task's failure ("host path /nfs/x did not answer..."). */
export function describeProbe(path: string, result: ProbeResult | undefined, timeoutMs: number): string | undefined {
  if (!result) return `host path ${path} was not checked: a host path before it did not answer`;
  if (result.ok) return undefined;
  if ('hung' in result) {
    return `host path ${path} did not answer a stat within ${timeoutMs / 1000} s (a hung NFS or other network mount, or an automount that does not come up); the task was not started`;
  }
  if (result.code === 'ENOENT' || result.code === 'ENOTDIR') {
    return `host path ${path} does not exist on this machine; a task never creates one (create it first)`;
  }
  return `cannot read host path ${path}: ${result.code}`;
}
