#!/usr/bin/env node
// The README's set-up commands: `npm start` and `npm test` call this with node and npm only.
// It fetches the pinned pnpm into .tools/, installs the workspace (building native addons against
// this Node's own headers, since the machines here reach no download site but the registry), builds,
// then starts the cluster or runs the whole test suite.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const pnpmVersion = pkg.packageManager.replace(/^pnpm@/, '');
const toolsDir = path.join(root, '.tools');
// pnpm 12 ships as a native executable; npm links it into .bin.
const pnpmBin = path.join(toolsDir, 'node_modules', '.bin', process.platform === 'win32' ? 'pnpm.cmd' : 'pnpm');

const step = (message) => console.error(`\n[setup] ${message}`);

function run(command, args, extraEnv = {}, { exitOnFailure = true, cwd = root } = {}) {
  const result = spawnSync(command, args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, ...extraEnv },
  });
  if (result.status !== 0 && exitOnFailure) {
    console.error(`[setup] failed: ${command} ${args.join(' ')} (exit ${result.status ?? result.signal})`);
    process.exit(result.status || 1);
  }
  return result.status ?? 1;
}

/**
 * Runs the test suite with its output passed through as it comes, and returns its exit status with
 * the lines that name a failure (ava marks a failed test with ✘; a test file that crashed, timed
 * out or left a rejection unhandled says so in words). They are printed again at the very end, so
 * that the last lines of a long run (all a CI log's tail shows) say what failed on which store.
 */
const FAILURE_LINE = /✘|[Uu]ncaught exception|[Uu]nhandled rejection|exited with a non-zero|Timed out while running|timed out/;

function runSuite(args, extraEnv) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['inherit', 'pipe', 'pipe'], env: { ...process.env, ...extraEnv } });
    const failures = [];
    const watch = (stream, sink) => {
      // Decoded across chunks: a ✘ split between two would be missed.
      const decoder = new StringDecoder('utf8');
      let rest = '';
      stream.on('data', (chunk) => {
        sink.write(chunk);
        const lines = (rest + decoder.write(chunk)).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (!line.trimStart().startsWith('✔') && FAILURE_LINE.test(line)) failures.push(line.trim());
      });
    };
    watch(child.stdout, process.stdout);
    watch(child.stderr, process.stderr);
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 1 : 0), failures }));
  });
}

/** Runs a test set-up script that prints KEY=VALUE lines for the tests; {} when it cannot. */
function testDependency(what, script, args, missing) {
  if (process.platform !== 'linux') {
    console.error(`[setup] !!! not Linux: ${missing}`);
    return {};
  }
  step(what);
  const result = spawnSync('bash', [path.join(root, 'scripts', script), ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) {
    console.error(`[setup] !!! ${missing} (see the reason above)`);
    return {};
  }
  return Object.fromEntries(
    result.stdout
      .split('\n')
      .map((line) => line.trim().split('='))
      .filter((pair) => pair.length === 2 && pair[0]),
  );
}

function ensurePnpm() {
  if (existsSync(pnpmBin)) {
    const installed = JSON.parse(readFileSync(path.join(toolsDir, 'node_modules', 'pnpm', 'package.json'), 'utf8'));
    if (installed.version === pnpmVersion) return;
  }
  step(`fetching pnpm ${pnpmVersion} into .tools/`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  run(npm, ['install', '--prefix', toolsDir, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `pnpm@${pnpmVersion}`]);
}

const pnpm = (args, env, options) => run(pnpmBin, args, env, options);

const pamRetryMarker = path.join(toolsDir, 'pam-binding-retried');

/**
 * The PAM binding (node-linux-pam) is optional: it builds where libpam's headers are, and the
 * master says "PAM support is not available" where it did not. True when the headers are here
 * now but the binding is not, and no forced reinstall has been tried for it yet.
 */
function pamBindingSkipped() {
  if (process.platform !== 'linux' || !existsSync('/usr/include/security/pam_appl.h') || existsSync(pamRetryMarker)) return false;
  const check = spawnSync(process.execPath, ['-e', "require('node-linux-pam')"], { cwd: path.join(root, 'packages', 'master'), stdio: 'ignore' });
  return check.status !== 0;
}

function install() {
  ensurePnpm();
  step('installing dependencies (native addons compile on the first run, about a minute)');
  // Node's headers ship with the runtime: node-gyp must not try to download them.
  const nodedir = path.dirname(path.dirname(process.execPath));
  const buildEnv = {
    npm_config_nodedir: existsSync(path.join(nodedir, 'include', 'node')) ? nodedir : undefined,
    // argon2's bundled prebuild crashes on Node 20 and better-sqlite3's download fails offline.
    npm_config_build_from_source: 'true',
    CI: process.env.CI ?? 'true',
  };
  for (const key of Object.keys(buildEnv)) if (buildEnv[key] === undefined) delete buildEnv[key];
  // Not --frozen-lockfile: pnpm 12 then also insists on recording the packageManager pin for every
  // platform, which fails against registries that lack some of pnpm's platform binaries. The lockfile
  // is held fixed by hand instead: in CI, any change to it fails the run.
  const lockfile = path.join(root, 'pnpm-lock.yaml');
  const before = readFileSync(lockfile, 'utf8');
  // pnpm 12 looks up its own binaries for every platform on each install; the registry mirror here
  // lacks some and sometimes answers that with a hard error that the next attempt does not repeat.
  for (let attempt = 1; ; attempt++) {
    const status = pnpm(['install', '--no-frozen-lockfile', '--reporter=append-only'], buildEnv, { exitOnFailure: attempt === 3 });
    if (status === 0) break;
    step(`install failed; trying again (attempt ${attempt + 1} of 3)`);
  }
  if (pamBindingSkipped()) {
    // pnpm does not retry an optional dependency whose build failed: --force does, once.
    step("libpam's headers are here, but an earlier install ran without them and left out the PAM binding: reinstalling with --force");
    writeFileSync(pamRetryMarker, new Date().toISOString());
    pnpm(['install', '--force', '--no-frozen-lockfile', '--reporter=append-only'], buildEnv, { exitOnFailure: false });
  }
  if (readFileSync(lockfile, 'utf8') !== before) {
    const message = 'pnpm-lock.yaml was out of date with the package.json files; commit the updated lockfile';
    if (process.env.CI) {
      console.error(`[setup] ${message}`);
      process.exit(1);
    }
    console.error(`[setup] warning: ${message}`);
  }
  step('building');
  // The tools themselves, not `pnpm run`: every pnpm command repeats the platform-binary lookup above.
  const bin = (...parts) => path.join(root, ...parts);
  run(process.execPath, [bin('node_modules', 'typescript', 'bin', 'tsc'), '-b']);
  // The tests and benches run through tsx, which strips types unchecked: checked here, against the packages just built.
  run(process.execPath, [bin('node_modules', 'typescript', 'bin', 'tsc'), '-p', bin('test', 'tsconfig.json')]);
  // The CLI as one file with a code cache: what makes `yard` start fast (P4).
  run(process.execPath, [bin('packages', 'cli', 'scripts', 'bundle.mjs')]);
  run(process.execPath, [bin('node_modules', 'typescript', 'bin', 'tsc'), '-p', bin('packages', 'web', 'tsconfig.json')]);
  run(process.execPath, [bin('packages', 'web', 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], {}, { cwd: bin('packages', 'web') });
}

const mode = process.argv[2];
// Before the install: the optional PAM binding compiles only where libpam's headers are.
const authEnv =
  mode === 'test'
    ? testDependency(
        'installing the LDAP server, PAM modules and htpasswd for the authentication tests',
        'auth-servers.sh',
        [],
        'NO LDAP/PAM TEST SERVERS: the LDAP, PAM and password-file login tests will NOT run',
      )
    : {};
install();
if (mode === 'test') {
  const engineEnv = testDependency(
    'starting a container engine for the Docker executor tests',
    'container-engine.sh',
    ['up'],
    'NO CONTAINER ENGINE: the Docker executor tests will NOT run; the process executor tests will',
  );
  const imageToolsEnv = testDependency(
    'installing a container registry and bindfs for the image tests',
    'image-tools.sh',
    [],
    'NO REGISTRY OR BINDFS: the image pull test and the hung-mount test will NOT run',
  );
  const jupyterEnv = testDependency(
    "building a Debian image with Jupyter's classic notebook server for the real-Jupyter test (about 4 minutes the first time on a machine)",
    'jupyter-image.sh',
    [],
    'NO JUPYTER IMAGE: the real-Jupyter notebook test will NOT run',
  );
  const shellsEnv = testDependency(
    'installing zsh and fish for the completion-script tests',
    'shells.sh',
    [],
    'NO ZSH OR FISH: the zsh and fish completion scripts will NOT be tried in real shells (bash is)',
  );
  const browserEnv = testDependency(
    "finding a browser for the web UI's tests",
    'browser.sh',
    [],
    'NO CHROMIUM: the browser tests of the web UI will NOT run; its API tests will',
  );
  const slurmEnv = testDependency(
    'starting a single-node Slurm cluster for the Slurm tests',
    'slurm-cluster.sh',
    ['up'],
    'NO SLURM: the slurmrestd client tests and the one-shot agent tests in Slurm jobs will NOT run',
  );
  const postgresEnv = testDependency(
    'starting a throwaway PostgreSQL for the suite on PostgreSQL',
    'postgres.sh',
    ['up'],
    'NO POSTGRESQL: the suite runs on SQLite only; it will NOT run on PostgreSQL',
  );
  const env = { ...authEnv, ...engineEnv, ...imageToolsEnv, ...shellsEnv, ...jupyterEnv, ...browserEnv, ...slurmEnv, ...postgresEnv };
  // The whole suite on each store (README, "Tests"): SQLite, the embedded default, then PostgreSQL,
  // where every test master gets a database of its own on the server started above.
  const ava = path.join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
  step('running the whole test suite on SQLite');
  const passes = [{ store: 'SQLite', ...(await runSuite([ava], { ...env, YARD_TEST_DB: 'sqlite' })) }];
  if (postgresEnv.YARD_TEST_PG_URL) {
    step('running the whole test suite on PostgreSQL');
    passes.push({ store: 'PostgreSQL', ...(await runSuite([ava], { ...env, YARD_TEST_DB: 'postgres' })) });
    spawnSync('bash', [path.join(root, 'scripts', 'postgres.sh'), 'down', postgresEnv.YARD_TEST_PG_DIR], { stdio: 'inherit' });
  }
  const statuses = passes.map((pass) => pass.status);
  if (engineEnv.YARD_ENGINE_STARTED) spawnSync('bash', [path.join(root, 'scripts', 'container-engine.sh'), 'down'], { stdio: 'inherit' });
  if (process.platform === 'linux') spawnSync('bash', [path.join(root, 'scripts', 'slurm-cluster.sh'), 'down'], { stdio: 'inherit' });
  for (const pass of passes) {
    if (pass.status === 0) continue;
    console.error(`\n[setup] on ${pass.store} (exit ${pass.status}):`);
    for (const line of [...new Set(pass.failures)].slice(0, 40)) console.error(`[setup]   ${line}`);
    if (pass.failures.length === 0) console.error('[setup]   no test was marked failed: look above for what ended the run');
  }
  if (statuses.some((s) => s !== 0)) console.error(`[setup] failed on ${passes.filter((pass) => pass.status !== 0).map((pass) => pass.store).join(' and ')}`);
  process.exit(statuses.find((s) => s !== 0) ?? 0);
} else if (mode === 'start') {
  step('starting the cluster');
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'start-cluster.mjs'), ...process.argv.slice(3)], {
    cwd: root,
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else if (mode !== 'install') {
  console.error('usage: node scripts/setup.mjs install|start|test');
  process.exit(2);
}
