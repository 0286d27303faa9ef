#!/usr/bin/env node
// Starts a working cluster on this machine: the master on its embedded SQLite file (master.yaml)
// and a local agent that runs tasks with Docker when a daemon answers, else as processes.
// Ctrl-C stops both; tasks that are running keep running and are picked up again next start.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const configFile = path.resolve(process.env.YARD_CONFIG ?? path.join(root, 'master.yaml'));
const config = parse(readFileSync(configFile, 'utf8')) ?? {};
const host = process.env.YARD_HOST ?? config.listen?.host ?? '127.0.0.1';
const port = process.env.YARD_PORT ?? config.listen?.port ?? 8080;
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
const tokenFile = config.agents?.token_file ? path.resolve(path.dirname(configFile), config.agents.token_file) : undefined;

const children = [];
let stopping = false;

function start(name, script, args) {
  const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`[cluster] ${name} exited (${signal ?? code})`);
    stopAll(code ?? 1);
  });
  children.push(child);
}

function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 1500).unref();
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

start('master', path.join(root, 'packages', 'master', 'bin', 'yard-master.js'), ['--config', configFile]);

// The agent needs the master up (and the token file it writes on first start).
const deadline = Date.now() + 30_000;
while (!(await fetch(`${url}/healthz`).then((r) => r.ok, () => false))) {
  if (Date.now() > deadline || stopping) {
    console.error(`[cluster] the master did not answer on ${url}`);
    stopAll(1);
    await new Promise(() => {});
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
if (!tokenFile) {
  console.error('[cluster] master.yaml sets no agents.token_file: starting the master alone (agents need a token)');
} else {
  start('agent', path.join(root, 'packages', 'agent', 'bin', 'yard-agent.js'), [
    '--master', url,
    '--token-file', tokenFile,
    '--name', 'local',
    '--executor', process.env.YARD_EXECUTOR ?? 'auto',
    '--work-dir', path.join(root, 'data', 'agent'),
  ]);
}
console.error(`[cluster] master on ${url}; in another terminal try: npx yard user list`);
