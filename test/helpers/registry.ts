import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './cli.js';
import { freePort, waitFor } from './cluster.js';

/**
 * The image tests' tools, as `bash scripts/image-tools.sh` finds or installs them (setup.mjs test
 * runs it and passes what it printed; a test run on its own runs it here): Debian's distribution
 * registry and bindfs. Unset where they cannot be had: the script said why on stderr.
 */
function imageTools(): { registry?: string; bindfs?: string } {
  let env: Record<string, string | undefined> = process.env;
  if (env.YARD_TEST_REGISTRY === undefined && env.YARD_TEST_BINDFS === undefined) {
    const found = spawnSync('bash', [path.join(ROOT, 'scripts', 'image-tools.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
    env = Object.fromEntries((found.stdout ?? '').split('\n').flatMap((line) => (/^YARD_TEST_\w+=/.test(line) ? [line.split(/=(.*)/s).slice(0, 2) as [string, string]] : [])));
  }
  return { registry: env.YARD_TEST_REGISTRY, bindfs: env.YARD_TEST_BINDFS };
}

const tools = imageTools();
/** Debian's distribution registry (`docker-registry`), or undefined where it cannot be had. */
export const REGISTRY_BIN = tools.registry;
/** bindfs, to make a FUSE mount that hangs, or undefined where it (or /dev/fuse) cannot be had. */
export const BINDFS_BIN = tools.bindfs;

export interface TestRegistry {
  /** `127.0.0.1:PORT`: the prefix of its images' names (plain HTTP, which Docker allows on 127.0.0.1). */
  host: string;
  stop(): Promise<void>;
}

/**
 * A real registry on 127.0.0.1 and a free port, storing in `dir`; stopped by its pid. Docker pushes
 * to and pulls from it over plain HTTP (its default for loopback registries).
 */
export async function startRegistry(dir: string): Promise<TestRegistry> {
  if (!REGISTRY_BIN) throw new Error('no registry: run bash scripts/image-tools.sh and set YARD_TEST_REGISTRY');
  const port = await freePort();
  const config = path.join(dir, 'registry.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: {level: warn}',
      `storage: {filesystem: {rootdirectory: ${JSON.stringify(path.join(dir, 'registry-data'))}}, delete: {enabled: true}}`,
      `http: {addr: "127.0.0.1:${port}"}`,
      '',
    ].join('\n'),
  );
  const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await waitFor(`the registry on 127.0.0.1:${port}\n${output}`, async () => (await fetch(`http://127.0.0.1:${port}/v2/`)).ok, 20_000);
  return {
    host: `127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
