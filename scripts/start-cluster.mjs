#!/usr/bin/env node
// Starts a working cluster on this machine: the master on its embedded SQLite file (master.yaml),
// plus a local agent once packages/agent can run tasks. Ctrl-C stops everything it started.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const children = [];

function start(name, script, args = []) {
  const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    console.error(`[cluster] ${name} exited (${signal ?? code})`);
    stopAll(code ?? 1);
  });
  children.push(child);
  return child;
}

let stopping = false;
function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500).unref();
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

const config = process.env.YARD_CONFIG ?? path.join(root, 'master.yaml');
start('master', path.join(root, 'packages', 'master', 'bin', 'yard-master.js'), ['--config', config]);

const agentMain = path.join(root, 'packages', 'agent', 'dist', 'main.js');
if (!existsSync(agentMain)) {
  console.error('[cluster] no local agent yet: tasks wait in QUEUED until packages/agent can run them');
}

const port = process.env.YARD_PORT ?? '8080';
console.error(`[cluster] master starting on http://127.0.0.1:${port}; try: npx yard user list`);
