import { spawn, spawnSync } from 'node:child_process';
import { AGENT_BIN, login, startMaster, stopChild, tempDir } from './lib/processes.js';
import { percentile, round } from './stats.js';

const now = () => performance.now();

/** Time from spawning `command` to its first line of output, directly. */
function direct(command: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = now();
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.once('data', () => resolve(now() - started));
    child.on('error', reject);
  });
}

/**
 * P7: submit → first log line through a local agent, against starting the same process (or
 * container) directly. One task at a time, the agent idle and waiting.
 */
export async function p7(options: { executor: 'process' | 'docker'; image: string; runs: number }) {
  const dir = tempDir();
  const master = await startMaster(dir);
  const agent = spawn(process.execPath, [AGENT_BIN, '--master', master.url, '--token-file', master.tokenFile, '--name', 'bench', '--executor', options.executor, '--work-dir', dir], {
    stdio: 'ignore',
  });
  try {
    const token = await login(master.url);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    await new Promise((r) => setTimeout(r, 1500));
    const command = ['echo', 'first-line'];
    const viaYard: number[] = [];
    const viaDirect: number[] = [];
    for (let i = 0; i < options.runs + 1; i++) {
      const started = now();
      const created = await fetch(`${master.url}/api/v1/tasks`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ kind: 'command', config: { image: options.image, entrypoint: command } }),
      });
      const { id } = (await created.json()) as { id: number };
      let after = 0;
      for (;;) {
        const page = (await (await fetch(`${master.url}/api/v1/tasks/${id}/logs?after=${after}&wait=10`, { headers })).json()) as {
          items: Array<{ line: string; seq: number }>;
          next: number;
        };
        after = page.next;
        if (page.items.some((l) => l.line === 'first-line')) break;
      }
      if (i > 0) viaYard.push(now() - started);
      const directCommand = options.executor === 'docker' ? ['docker', 'run', '--rm', options.image, ...command] : command;
      const d = await direct(directCommand);
      if (i > 0) viaDirect.push(d);
      // Let the task finish before the next, as a person would.
      await new Promise((r) => setTimeout(r, options.executor === 'docker' ? 800 : 200));
    }
    if (options.executor === 'docker') spawnSync('docker', ['container', 'prune', '-f'], { stdio: 'ignore' });
    const yardMs = percentile(viaYard, 50);
    const directMs = percentile(viaDirect, 50);
    return { executor: options.executor, runs: options.runs, yardMs: round(yardMs, 1), directMs: round(directMs, 1), ratio: round(yardMs / directMs), overheadMs: round(yardMs - directMs, 1) };
  } finally {
    await stopChild(agent);
    await master.stop();
  }
}
