import { readFileSync } from 'node:fs';
import path from 'node:path';
import { login, startMaster, tempDir } from './lib/processes.js';
import { measureDispatch, startSimAgents } from './lib/sim-agents.js';
import { percentile, round } from './stats.js';

/**
 * P2: `agents` simulated agents long-poll (in `workers` processes); tasks are submitted at a steady
 * `rate` per second for `seconds`; figures: submit → assignment-received latency and master RSS.
 */
export async function p2(options: { agents: number; workers: number; rate: number; seconds: number }) {
  const master = await startMaster(tempDir());
  const token = readFileSync(master.tokenFile, 'utf8').trim();
  const userToken = await login(master.url);
  const sims = startSimAgents(master, token, { agents: options.agents, workers: options.workers, prefix: 'sim' });
  try {
    await sims.ready(userToken);
    let rssMb = 0;
    const { total, latencies, masterSide } = await measureDispatch(sims, path.join(master.dir, 'bench.db'), {
      rate: options.rate,
      seconds: options.seconds,
      submit: async (i) => {
        const response = await fetch(`${master.url}/api/v1/tasks`, {
          method: 'POST',
          headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'] } }),
        });
        // RSS as the last submission is made, before the agents have drained the queue.
        if (i === options.rate * options.seconds - 1) rssMb = master.rssMb();
        return ((await response.json()) as { id: number }).id;
      },
    });
    return {
      // The same interval as the master saw it (created -> assigned, both its own clock), to tell
      // the master's share of the tail from the simulated agents' and the submitter's.
      masterSideP50Ms: percentile(masterSide, 50),
      masterSideP99Ms: percentile(masterSide, 99),
      agents: sims.count,
      tasks: total,
      assigned: latencies.length,
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      rssMb,
    };
  } finally {
    sims.finish();
    await sims.kill();
    await master.stop();
  }
}
