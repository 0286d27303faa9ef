import { execFile } from 'node:child_process';
import os from 'node:os';
import type { AgentResources } from '@trainyard/shared';

/** CPUs and memory from the OS; GPUs from nvidia-smi when it is installed and answers, else none. */
export async function detectResources(fakeGpus?: number): Promise<{ resources: AgentResources; notes: string[] }> {
  const notes: string[] = [];
  if (fakeGpus !== undefined) {
    // Test mode (--fake-gpus, see main.ts): GPUs that exist only for the scheduler.
    const gpus = Array.from({ length: fakeGpus }, (_, index) => ({ index, uuid: `FAKE-${index}`, name: `FAKE-${index} (test mode)`, memoryBytes: 0 }));
    return { resources: { cpus: os.cpus().length, memoryBytes: os.totalmem(), gpus }, notes: [`TEST MODE: ${fakeGpus} fake GPUs`] };
  }
  const gpus = await detectGpus().catch((error: unknown) => {
    notes.push(`no GPUs detected (${(error as Error).message})`);
    return [];
  });
  return { resources: { cpus: os.cpus().length, memoryBytes: os.totalmem(), gpus }, notes };
}

async function detectGpus(): Promise<AgentResources['gpus']> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits'],
      { timeout: 10_000 },
      (error, stdout) => (error ? reject(new Error((error as NodeJS.ErrnoException).code === 'ENOENT' ? 'nvidia-smi is not installed' : error.message)) : resolve(stdout)),
    );
  });
  return output
    .split('\n')
    .map((line) => line.split(',').map((f) => f.trim()))
    .filter((fields) => fields.length >= 4 && /^\d+$/.test(fields[0]!))
    .map(([index, uuid, name, memoryMiB]) => ({
      index: Number(index),
      uuid: uuid!,
      name: name!,
      memoryBytes: Number(memoryMiB) * 1024 * 1024,
    }));
}
