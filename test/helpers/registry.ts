import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, waitFor } from './cluster.js';

/** Debian's distribution registry (`bash scripts/image-tools.sh` prints it), or unset where it cannot be had. */
export const REGISTRY_BIN = process.env.YARD_TEST_REGISTRY;

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
