// `pnpm bench`: prints each figure beside its goal, and writes them to bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureListLatency } from './list-latency.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tasks = Number(process.env.BENCH_TASKS ?? 100_000);

console.error(`[bench] seeding ${tasks} tasks and timing the list API on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'})`);
const list = await measureListLatency(tasks);

const rows = list.map((r) => [r.name, String(r.tasks), `${r.p50Ms} ms`, `${r.p99Ms} ms`, r.goal]);
const header = ['figure', 'tasks', 'p50', 'p99', 'goal'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());

const out = path.join(here, 'results');
mkdirSync(out, { recursive: true });
const report = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, list };
writeFileSync(path.join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
console.error(`[bench] wrote ${path.join('bench', 'results', 'latest.json')}`);
