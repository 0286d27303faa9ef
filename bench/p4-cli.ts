import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI_BIN, startMaster, tempDir } from './lib/processes.js';
import { percentile, round } from './stats.js';

function timeRun(args: string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { env, stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}`);
  return performance.now() - started;
}

/** P4: `yard experiment list` wall time against `node -e 0`, medians of `runs` each. */
export async function p4(runs = 15) {
  const master = await startMaster(tempDir());
  try {
    const home = mkdtempSync(path.join(os.tmpdir(), 'yard-bench-home-'));
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), YARD_MASTER: master.url };
    timeRun([CLI_BIN, 'experiment', 'list'], env); // logs in as the default account once; later runs reuse the token
    // What is measured: the bundle with its code cache (scripts/bundle.mjs), or the compiled sources when it is missing or stale.
    const loaded = spawnSync(process.execPath, [CLI_BIN, 'experiment', 'list'], { env: { ...env, YARD_DEBUG_CODE_CACHE: '1' }, encoding: 'utf8' }).stderr;
    const bundle = /^code cache: used$/m.test(loaded);
    if (!bundle) console.error('[bench] P4: the CLI runs WITHOUT its bundle or code cache (build it: node packages/cli/scripts/bundle.mjs)');
    const cli: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      bare.push(timeRun(['-e', '0'], env));
      cli.push(timeRun([CLI_BIN, 'experiment', 'list'], env));
    }
    const cliMs = percentile(cli, 50);
    const nodeMs = percentile(bare, 50);
    return { runs, cliMs: round(cliMs, 1), nodeMs: round(nodeMs, 1), ratio: round(cliMs / nodeMs), bundle };
  } finally {
    await master.stop();
  }
}
