#!/usr/bin/env node
// Packs the CLI, the master and the agent as npm tarballs that install anywhere with `npm i -g`,
// without this repository (run after a build: `node scripts/setup.mjs install`):
//   node scripts/pack.mjs [--out DIR]            DIR/trainyard-{cli,master,agent}-VERSION.tgz (default dist/packages)
//   node scripts/pack.mjs --install PREFIX       also `npm i -g` them into PREFIX (native addons built for this Node)
//   node scripts/pack.mjs --docker DIR           a Docker build context: Dockerfile, master.yaml, the tarballs;
//                                                with --install, the installed tree too (the image copies it)
// The workspace packages depend on @trainyard/shared through `workspace:*`, which no registry has: each
// tarball carries shared inside it (a bundled dependency, its own dependencies merged into the package's),
// so the three install on their own. The master's tarball carries the built web UI (web/).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const PACKAGES = ['cli', 'master', 'agent'];

const { values } = parseArgs({ options: { out: { type: 'string' }, install: { type: 'string' }, docker: { type: 'string' } } });
const out = path.resolve(values.out ?? path.join(root, 'dist', 'packages'));
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const fail = (message) => {
  console.error(`pack: ${message}`);
  process.exit(1);
};

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });
  if (result.status !== 0) fail(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
  return result.stdout;
}

/** Copies what runs (JavaScript and JSON; no tests, maps or declarations) from `from` to `to`. */
function copyRuntime(from, to) {
  cpSync(from, to, {
    recursive: true,
    filter: (source) => statSync(source).isDirectory() || (/\.(m?js|cjs|json)$/.test(source) && !/\.test\.m?js$/.test(source)),
  });
}

const shared = readJson(path.join(root, 'packages', 'shared', 'package.json'));
if (!existsSync(path.join(root, 'packages', 'shared', 'dist', 'index.js'))) fail('build first: node scripts/setup.mjs install (or tsc -b)');

/** The version of `dep` installed for the workspace package at `from` (pnpm links it there), if any. */
function installedVersion(dep, from) {
  const manifest = path.join(from, 'node_modules', dep, 'package.json');
  return existsSync(manifest) ? readJson(manifest).version : undefined;
}

/** `exports` without `types` conditions: the tarballs carry no declarations. */
function withoutTypes(exports) {
  if (!exports) return exports;
  return Object.fromEntries(Object.entries(exports).map(([key, value]) => [key, typeof value === 'object' ? value.default : value]));
}

/** One package's directory as npm will pack it: package.json made publishable, shared inside. */
function stage(name, staging) {
  const source = path.join(root, 'packages', name);
  const pkg = readJson(path.join(source, 'package.json'));
  const dir = path.join(staging, name);
  mkdirSync(dir, { recursive: true });
  copyRuntime(path.join(source, 'dist'), path.join(dir, 'dist'));
  cpSync(path.join(source, 'bin'), path.join(dir, 'bin'), { recursive: true });
  const files = ['bin', 'dist'];
  if (name === 'master') {
    const web = path.join(root, 'packages', 'web', 'dist');
    if (!existsSync(path.join(web, 'index.html'))) fail('the web UI is not built (packages/web/dist): node scripts/setup.mjs install');
    cpSync(web, path.join(dir, 'web'), { recursive: true });
    files.push('web');
  }
  // @trainyard/shared, bundled: its built code under node_modules/, its dependencies the package's own.
  const bundled = path.join(dir, 'node_modules', '@trainyard', 'shared');
  copyRuntime(path.join(root, 'packages', 'shared', 'dist'), path.join(bundled, 'dist'));
  // Its dependencies are the host package's (below): npm would take those it lists here for part of
  // the bundle and leave them empty, as they are not in the tarball.
  const { devDependencies: _sharedDev, private: _sharedPrivate, dependencies: _sharedDeps, ...sharedManifest } = shared;
  writeFileSync(path.join(bundled, 'package.json'), `${JSON.stringify(sharedManifest, null, 2)}\n`);
  // Each dependency pinned to the version this workspace installed and tested (the lockfile's).
  const pinned = (deps, from) => Object.fromEntries(Object.entries(deps ?? {}).map(([dep, spec]) => [dep, installedVersion(dep, from) ?? spec]));
  const dependencies = { ...pinned(shared.dependencies, path.join(root, 'packages', 'shared')), ...pinned(pkg.dependencies, source), '@trainyard/shared': shared.version };
  const { devDependencies: _dev, private: _private, scripts: _scripts, optionalDependencies, ...rest } = pkg;
  const manifest = {
    ...rest,
    license: 'UNLICENSED',
    engines: readJson(path.join(root, 'package.json')).engines,
    files: [...new Set([...(pkg.files ?? []), ...files])],
    exports: withoutTypes(pkg.exports),
    dependencies: Object.fromEntries(Object.entries(dependencies).sort(([a], [b]) => a.localeCompare(b))),
    ...(optionalDependencies ? { optionalDependencies: pinned(optionalDependencies, source) } : {}),
    bundleDependencies: ['@trainyard/shared'],
  };
  for (const [dep, spec] of Object.entries(manifest.dependencies)) {
    if (String(spec).startsWith('workspace:')) fail(`${pkg.name} depends on ${dep} through ${spec}: only @trainyard/shared can be bundled`);
  }
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

const staging = mkdtempSync(path.join(os.tmpdir(), 'trainyard-pack-'));
const tarballs = [];
try {
  mkdirSync(out, { recursive: true });
  for (const name of PACKAGES) {
    const dir = stage(name, staging);
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', out], { cwd: dir }));
    tarballs.push(path.join(out, packed[0].filename));
    console.error(`pack: ${path.join(out, packed[0].filename)} (${Math.round(packed[0].size / 1024)} KiB)`);
  }
} finally {
  rmSync(staging, { recursive: true, force: true });
}

if (values.install) {
  const prefix = path.resolve(values.install);
  // Native addons (better-sqlite3, argon2, node-pty) build from source against this Node's own
  // headers, as scripts/setup.mjs does: no download of headers or prebuilt binaries.
  const nodedir = path.dirname(path.dirname(process.execPath));
  const env = {
    ...process.env,
    npm_config_build_from_source: 'true',
    ...(existsSync(path.join(nodedir, 'include', 'node')) ? { npm_config_nodedir: nodedir } : {}),
    JOBS: 'max',
  };
  console.error(`pack: installing into ${prefix} (native addons compile: a minute or two)`);
  // --prefer-offline: what npm's cache has already is not asked of the registry again.
  run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], {
    env,
    stdio: ['ignore', 2, 'inherit'],
  });
}

if (values.docker) {
  const context = path.resolve(values.docker);
  mkdirSync(path.join(context, 'packages'), { recursive: true });
  for (const file of readdirSync(path.join(context, 'packages'))) rmSync(path.join(context, 'packages', file));
  for (const tarball of tarballs) cpSync(tarball, path.join(context, 'packages', path.basename(tarball)));
  for (const file of ['Dockerfile', 'master.yaml']) cpSync(path.join(root, 'deploy', file), path.join(context, file));
  rmSync(path.join(context, 'prefix'), { recursive: true, force: true });
  if (values.install) cpSync(path.resolve(values.install), path.join(context, 'prefix'), { recursive: true, verbatimSymlinks: true });
  console.error(`pack: Docker build context in ${context}${values.install ? ' (with the installed tree)' : ''}`);
}
process.stdout.write(`${tarballs.join('\n')}\n`);
