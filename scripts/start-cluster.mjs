#!/usr/bin/env node
// Starts a working cluster on this machine: the master on its embedded SQLite file (master.yaml)
// and a local agent that runs tasks with Docker when a daemon answers, else as processes.
// Ctrl-C stops both; tasks that are running keep running and are picked up again next start.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '@trainyard/master';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const configFile = path.resolve(process.env.YARD_CONFIG ?? path.join(root, 'master.yaml'));
const fail = (message) => {
  console.error(`[cluster] ${message}`);
  process.exit(1);
};

// The master's own reading of master.yaml (and of YARD_HOST/YARD_PORT/YARD_DB), so both agree.
let config;
try {
  config = loadConfig(configFile);
} catch (error) {
  if (error instanceof ConfigError) fail(`refusing to start: ${error.message}`);
  throw error;
}
const { host, port, tls } = config.listen;
// A master listening on every address is reached on loopback from here.
const connectHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
const url = `${tls ? 'https' : 'http'}://${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${port}`;

// Another cluster on this port would answer the health check below, and the new agent would join
// it: find out first, and stop. The same for the port of tasks' services (listen.services_port,
// listen.port + 1 by default), which the master would otherwise fail on after a start.
const inUse = (probePort) =>
  new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error) => resolve(error.code === 'EADDRINUSE'));
    probe.listen(probePort, host, () => probe.close(() => resolve(false)));
  });
if (await inUse(port)) {
  fail(`${host}:${port} is already in use (another Trainyard cluster, or another program): stop it, or choose another port with YARD_PORT or listen.port in ${configFile}`);
}
const servicesPort = config.listen.services_port;
if (servicesPort && (await inUse(servicesPort))) {
  fail(
    `${host}:${servicesPort}, the port of tasks' services (listen.services_port; listen.port + 1 unless set), is already in use ` +
      `(another Trainyard cluster, or another program): stop it, or choose another with listen.services_port in ${configFile}`,
  );
}

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
  process.exitCode = code;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 1500).unref();
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

start('master', path.join(root, 'packages', 'master', 'bin', 'yard-master.js'), ['--config', configFile]);

// The agent needs the master up (and the token file it writes on first start).
const deadline = Date.now() + 30_000;
while (!(await fetch(`${url}/healthz`).then((r) => r.ok, () => false))) {
  if (stopping) await new Promise(() => {}); // the master exited: stopAll() ends this process
  if (Date.now() > deadline) {
    console.error(`[cluster] the master did not answer on ${url}`);
    stopAll(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
if (!config.agents.token_file) {
  console.error('[cluster] master.yaml sets no agents.token_file: starting the master alone (agents need a token)');
} else {
  start('agent', path.join(root, 'packages', 'agent', 'bin', 'yard-agent.js'), [
    '--master', url,
    '--token-file', config.agents.token_file,
    '--name', 'local',
    '--executor', process.env.YARD_EXECUTOR ?? 'auto',
    // Not inside the master's data directory, which is private to it (0700): the process
    // executor's task directories must be reachable by the users tasks run as.
    '--work-dir', path.join(root, 'agent-data'),
  ]);
}
console.error(
  `[cluster] master on ${url}` +
    (servicesPort ? `, tasks' services (notebooks) on ${url.replace(/:\d+$/, `:${servicesPort}`)}` : '') +
    '; in another terminal try: npx yard user list',
);
