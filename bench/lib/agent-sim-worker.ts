// Simulated agents for P2: each registers, heartbeats, long-polls, and on an assignment reports
// the moment it arrived (to the parent, over IPC), acknowledges, and completes the task at once.
const { url, token, count, prefix } = JSON.parse(process.argv[2]!) as { url: string; token: string; count: number; prefix: string };
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const now = () => performance.timeOrigin + performance.now();
let stopping = false;
process.on('message', (message) => {
  if (message === 'stop') stopping = true;
});

async function call(method: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${url}/api/v1/agents/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function agent(id: string): Promise<void> {
  await call('POST', `${id}/register`, { executor: 'process', resources: { cpus: 8, memoryBytes: 32 * 2 ** 30, gpus: [] } });
  const heartbeat = setInterval(() => void call('POST', `${id}/heartbeat`, { running: [] }).catch(() => undefined), 5000);
  try {
    while (!stopping) {
      const { actions } = await call('GET', `${id}/work?wait=5`);
      for (const action of actions) {
        if (action.type !== 'start') continue;
        process.send!({ taskId: action.spec.taskId, at: now() });
        const { taskId, leaseId } = action.spec;
        await call('POST', `${id}/tasks/${taskId}/ack`, { leaseId });
        await call('POST', `${id}/tasks/${taskId}/state`, { leaseId, state: 'RUNNING' });
        await call('POST', `${id}/tasks/${taskId}/state`, { leaseId, state: 'COMPLETED', exitCode: 0 });
      }
    }
  } finally {
    clearInterval(heartbeat);
  }
}

const agents = Array.from({ length: count }, (_, i) => agent(`${prefix}-${i}`));
process.send!({ ready: true });
const results = await Promise.allSettled(agents);
const failed = results.filter((r) => r.status === 'rejected');
console.log(JSON.stringify({ agents: count, failed: failed.length, firstError: failed[0] ? String((failed[0] as PromiseRejectedResult).reason) : null }));
