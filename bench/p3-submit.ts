import { load } from './lib/load.js';
import { login, startMaster, tempDir } from './lib/processes.js';

/** P3: tasks created per second through the API (50 connections), on a SQLite file or (`pgUrl`) a PostgreSQL database. */
export async function p3(seconds: number, pgUrl?: string) {
  const master = await startMaster(tempDir(), pgUrl ? { db: { url: pgUrl } } : {});
  try {
    const token = await login(master.url);
    const request = {
      url: `${master.url}/api/v1/tasks`,
      connections: 50,
      method: 'POST' as const,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'] } }),
    };
    await load({ ...request, durationSeconds: 2 });
    return await load({ ...request, durationSeconds: seconds });
  } finally {
    await master.stop();
  }
}
