import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import pino from 'pino';
import { Agent, MasterClient, type Executor } from '@trainyard/agent';
import { AGENT_RECONNECT } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { freePort, spawnMaster, tempDir, waitFor, type MasterProcess } from './helpers/cluster.js';

const AGENTS = 200;
/** The master comes back once every agent has drawn this many backoff delays (its last one not yet slept). */
const DRAWN_BEFORE_RESTART = 5;

/**
 * The most reconnections one second may hold, from the backoff's own math, whatever the test's timing.
 * Once every agent has drawn `drawn` delays, its reconnecting retry is one of retries `drawn`,
 * `drawn + 1`, ..., retry k coming a uniform draw over w_k = min(max, initial x 2^(k-1)) after the
 * one before. The chance that an agent reconnects within a given second is at most the expected
 * number of its retries in that second: at most 1/w_k for each retry below the cap (its density),
 * plus at most e/max for all the retries at the cap together (the renewal density of uniform(0, max)
 * gaps peaks at e/max). The agents draw independently, so a second's count is at most
 * Binomial(agents, p); the bound is the count that Binomial exceeds with probability below 1e-9.
 */
function maxPerSecond(agents: number, drawn: number, { initialMs, maxMs } = AGENT_RECONNECT): { p: number; bound: number } {
  let p = 0;
  let k = drawn;
  for (; initialMs * 2 ** (k - 1) < maxMs; k++) p += 1000 / (initialMs * 2 ** (k - 1));
  p += (Math.E * 1000) / maxMs;
  // P(Binomial(n, p) >= c), summed exactly from the top.
  const logChoose = (n: number, c: number) => lgamma(n + 1) - lgamma(c + 1) - lgamma(n - c + 1);
  const tail = (c: number) => {
    let sum = 0;
    for (let i = c; i <= agents; i++) sum += Math.exp(logChoose(agents, i) + i * Math.log(p) + (agents - i) * Math.log(1 - p));
    return sum;
  };
  let bound = Math.ceil(agents * p);
  while (tail(bound + 1) > 1e-9) bound++;
  return { p, bound };
}

/** ln Γ(x) (Lanczos), for binomial coefficients of 200. */
function lgamma(x: number): number {
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Runs nothing: these agents are here for their connection to the master (as bench P2's are). */
const idle: Executor = {
  name: 'process',
  describe: () => 'nothing (a simulated agent)',
  start: async () => {
    throw new Error('a simulated agent runs no task');
  },
  images: async () => null,
  findExisting: async () => [],
};

/** Each agent's first request to the restarted master, as the master's own access log has it (ms). */
function firstRequests(master: MasterProcess): Map<string, number> {
  const first = new Map<string, number>();
  for (const line of master.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; path?: string; time?: number };
    const agent = entry.msg === 'request' ? /^\/api\/v1\/agents\/([^/]+)\//.exec(entry.path ?? '')?.[1] : undefined;
    if (agent && !first.has(agent)) first.set(agent, entry.time!);
  }
  return first;
}

test(`${AGENTS} agents whose master restarts come back spread out by their backoff, not in the same second`, async (t) => {
  t.timeout(240_000);
  const dir = tempDir('yard-reconnect-');
  const port = await freePort();
  // Heartbeats every 5 s, agents lost after 20 s of silence (the defaults), the master's log at debug: every request.
  const config = { agents: { heartbeat_interval: '5s', lost_timeout: '20s' }, log: { level: 'debug' } };
  let master = await spawnMaster(dir, port, config);
  const logFile = path.join(dir, 'agents.log');
  const logger = pino({ level: 'info' }, pino.destination({ dest: logFile, sync: false }));
  const token = readFileSync(master.tokenFile, 'utf8').trim();
  const agents = Array.from(
    { length: AGENTS },
    (_, i) => new Agent(new MasterClient(master.url, `sim-${i}`, token), idle, logger.child({ agent: `sim-${i}` }), { floor: { agentDirs: [dir] }, fakeGpus: 0 }),
  );
  const running = agents.map((agent) => agent.run());
  t.teardown(async () => {
    for (const agent of agents) agent.stop();
    await Promise.allSettled(running);
    await master.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const admin = await loginToken(master.url, 'admin');
  await waitFor(`${AGENTS} agents to register`, async () => (await api(master.url, 'GET', '/agents', { token: admin })).body.items.length === AGENTS, 60_000);

  // The master goes away: every agent's long poll fails at once, and each backs off on its own.
  await master.kill('SIGTERM');
  await waitFor(
    `every agent to have drawn ${DRAWN_BEFORE_RESTART} delays`,
    () => agents.every((agent) => agent.reconnectAttempts >= DRAWN_BEFORE_RESTART),
    90_000,
  );
  master = await spawnMaster(dir, port, config);
  await waitFor(`all ${AGENTS} agents to reconnect`, () => firstRequests(master).size === AGENTS && agents.every((a) => a.reconnectAttempts === 0), 90_000);

  // Counted on the master's side, by the second its log gives each agent's first request.
  const perSecond = new Map<number, number>();
  for (const at of firstRequests(master).values()) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
  const busiest = Math.max(...perSecond.values());
  const { p, bound } = maxPerSecond(AGENTS, DRAWN_BEFORE_RESTART);
  t.log(`reconnections per second: ${[...perSecond.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n).join(' ')}; busiest ${busiest}, bound ${bound} (p ${p.toFixed(3)})`);
  t.true(busiest <= bound, `${busiest} agents reconnected in one second; the backoff allows at most ${bound}`);
  t.true(bound < AGENTS / 2);
  t.true(perSecond.size >= Math.ceil(AGENTS / bound));

  // Each agent said so in its log, with the delay and the attempt, and that the master answers again.
  logger.flush();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { agent: string; msg: string });
  const said = (pattern: RegExp) => new Set(lines.filter((l) => pattern.test(l.msg)).map((l) => l.agent)).size;
  t.is(said(/^master unreachable: .+; retrying in \d+\.\d s \(attempt \d+\)$/), AGENTS, lines.find((l) => /retrying/.test(l.msg))?.msg);
  t.is(said(/^the master answers again \(after \d+ retries\)$/), AGENTS);
  // And the master lost nobody: an agent backing off is not a silent one.
  const again = await loginToken(master.url, 'admin');
  const states = (await api(master.url, 'GET', '/agents', { token: again })).body.items.map((a: { state: string }) => a.state);
  t.deepEqual([...new Set(states)], ['alive']);
});
