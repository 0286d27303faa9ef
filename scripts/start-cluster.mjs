#!/usr/bin/env node
// Starts a working cluster on this machine: the master on its embedded SQLite file and a local
// agent that runs tasks with Docker when an engine answers, else as processes. The configuration
// is the quick start's (examples/quickstart.yaml: master.yaml plus what it relaxes), or YARD_CONFIG.
// For the quick start it makes sure the small default image is on the engine (built from this
// machine's busybox and node, as the tests do; else pulled; else the agent runs processes, saying
// so) and that the directories its policy mounts in every task exist.
// Ctrl-C stops both; tasks that are running keep running and are picked up again next start.
//   env: YARD_CONFIG, YARD_PORT/YARD_HOST/YARD_DB (the master's), YARD_EXECUTOR (docker, process,
//   auto), YARD_AGENT_NAME (local), YARD_AGENT_DIR (./agent-data), YARD_AGENT_SHARED_ROOT (./shared)
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '@trainyard/master';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const configFile = path.resolve(process.env.YARD_CONFIG ?? path.join(root, 'examples', 'quickstart.yaml'));
/** The quick start's default image (examples/quickstart.yaml): `localhost/` names no registry anyone could publish it on. */
const QUICKSTART_IMAGE = 'localhost/trainyard/quickstart:latest';
/** A small official image with sh, id, hostname and node, for an engine that can pull where this machine's files cannot make one. */
const PULLED_STAND_IN = 'node:22-alpine';
const say = (message) => console.error(`[cluster] ${message}`);
const fail = (message) => {
  say(message);
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

prepareMountDirectories();
const executor = chooseExecutor();
const masterConfigFile = asThisUser();

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

start('master', path.join(root, 'packages', 'master', 'bin', 'yard-master.js'), ['--config', masterConfigFile]);

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
    '--name', process.env.YARD_AGENT_NAME ?? 'local',
    '--executor', executor,
    // Not inside the master's data directory, which is private to it (0700): the process
    // executor's task directories must be reachable by the users tasks run as.
    '--work-dir', path.resolve(process.env.YARD_AGENT_DIR ?? path.join(root, 'agent-data')),
    ...sharedRootArgs(),
  ]);
}
say(
  `master on ${url}` +
    (servicesPort ? `, tasks' services (notebooks) on ${url.replace(/:\d+$/, `:${servicesPort}`)}` : '') +
    "; in another terminal try: npx yard command run -f -- sh -c 'id; hostname'",
);

/**
 * The directories the policy mounts in every task (the quick start's ./scratch) must exist, or
 * every task fails. Those in this clone or beside the config file are made here, mode 1777 like
 * /tmp: every user's tasks can write there, and each file stays its own uid's.
 */
function prepareMountDirectories() {
  const mounts = config.policy.system?.mounts ?? {};
  for (const { host_path: dir } of [...(mounts.default ?? []), ...(mounts.always ?? [])]) {
    const ours = [root, path.dirname(configFile)].some((base) => dir.startsWith(`${base}${path.sep}`));
    if (dir.includes('{') || existsSync(dir) || !ours) continue;
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o1777);
    say(`made ${path.relative(process.cwd(), dir) || dir} (mode 1777, like /tmp): the policy mounts it in every task`);
  }
}

/**
 * Docker when an engine answers (and the quick-start image is on it or can be made), else the
 * process executor; YARD_EXECUTOR=docker|process decides instead.
 */
function chooseExecutor() {
  const wanted = process.env.YARD_EXECUTOR ?? 'auto';
  if (!['auto', 'docker', 'process'].includes(wanted)) fail(`YARD_EXECUTOR must be docker, process or auto, not '${wanted}'`);
  if (wanted === 'process') return 'process';
  const fallBack = (why) => {
    if (wanted === 'docker') fail(`${why} (YARD_EXECUTOR=docker)`);
    say(`${why}: the local agent runs tasks as processes of this machine instead`);
    return 'process';
  };
  const engine = docker(['version', '--format', '{{.Server.Version}}']);
  if (engine.status !== 0) return fallBack(`no Docker engine answers${engine.error ? '' : ` (${lastLine(engine.stderr)})`}`);
  if (Object.values(config.tasks.images).includes(QUICKSTART_IMAGE)) {
    const image = ensureQuickstartImage();
    if (image !== true) return fallBack(`the quick-start image ${QUICKSTART_IMAGE} cannot be had (${image})`);
  }
  return 'docker';
}

/** true, or why not. Built from this machine's files where it can (current with them), else kept, else pulled. */
function ensureQuickstartImage() {
  const why = [];
  if (process.platform === 'linux') {
    if (!onPath('busybox')) installBusybox();
    if (onPath('busybox')) {
      const built = spawnSync('bash', [path.join(root, 'scripts', 'local-image.sh'), QUICKSTART_IMAGE], { stdio: ['ignore', 'inherit', 'inherit'] });
      if (built.status === 0) return true;
      why.push("building it from this machine's busybox and node failed");
    } else {
      why.push('this machine has no busybox to build it from (Debian: apt-get install busybox-static)');
    }
  } else {
    why.push(`this machine's programs are not Linux ones (${process.platform})`);
  }
  if (docker(['image', 'inspect', QUICKSTART_IMAGE]).status === 0) return true;
  say(`${why.join('; ')}: pulling ${PULLED_STAND_IN} to stand in for it`);
  const pulled = spawnSync('docker', ['pull', '-q', PULLED_STAND_IN], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (pulled.status === 0 && docker(['tag', PULLED_STAND_IN, QUICKSTART_IMAGE]).status === 0) return true;
  why.push(`pulling ${PULLED_STAND_IN} failed: ${lastLine(pulled.stderr)}`);
  return why.join('; ');
}

/**
 * The process executor, not as root, can run tasks only as the user it runs as, and mount nothing
 * (no mount namespaces): the master gets the config with that user as `security.default_task` and
 * no mounts added to every task, in a file beside its database that says so (`extends:` the config).
 */
function asThisUser() {
  const uid = process.getuid?.();
  if (executor !== 'process' || uid === undefined || uid === 0) return configFile;
  const { username: user, gid } = os.userInfo();
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim() || user;
  const file = path.join(path.dirname(config.db.path), 'as-this-user.yaml');
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const overlay = { extends: configFile, security: { default_task: { user, uid, group, gid } }, policy: { system: { mounts: { default: [], always: [] } } } };
  writeFileSync(file, `# Written by npm start: the process executor runs as ${user}, not root.\n${JSON.stringify(overlay, null, 2)}\n`);
  say(
    `the process executor runs as ${user} (uid ${uid}), not root: tasks of users with no agent-user link run as ${user}, ` +
      `with no scratch mount (${path.relative(process.cwd(), file)}); tasks of linked users need root or Docker`,
  );
  return file;
}

/** Debian's busybox-static, only as root with apt-get (nothing is installed otherwise). */
function installBusybox() {
  if (process.getuid?.() !== 0 || !onPath('apt-get')) return;
  say('installing busybox-static (apt-get) to build the quick-start image from');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', 'busybox-static'], { stdio: 'ignore', env }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    install();
  }
}

/**
 * Groups' shared directories (`yard group set --shared-dir on`) in ./shared. (The process executor
 * mounts them only where /shared/<group> exists on the machine, and says so when it does not.)
 */
function sharedRootArgs() {
  const dir = path.resolve(process.env.YARD_AGENT_SHARED_ROOT ?? path.join(root, 'shared'));
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return ['--shared-root', dir];
}

function docker(args) {
  return spawnSync('docker', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 15_000 });
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function lastLine(text) {
  return (text ?? '').trim().split('\n').pop() || 'no message';
}
