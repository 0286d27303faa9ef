#!/usr/bin/env node
// The single-file CLI (P4 in `pnpm bench`: yard's start-up time). esbuild bundles the compiled
// sources (dist/, from `tsc -b`) with oclif and every library they use into bundle/yard.cjs, beside
// oclif's command manifest and a V8 code cache of the bundle. bin/run.js loads the bundle with that
// cache (node:vm's cachedData), so a start reads two files and compiles almost nothing: Node 20 has
// no compile cache of its own for modules. Only @napi-rs/keyring (a native addon, required when a token
// is kept in the OS keychain) and open (the browser opener) stay outside, loaded from node_modules.
//
// bin/run.js runs the bundle when it is here and newer than the last build of dist/; otherwise dist/.
// To ship yard without the repository: bin/run.js, bundle/ and a package.json with those two as its
// dependencies (see docs/architecture.md, "The CLI").
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const final = path.join(cli, 'bundle');
// Built beside the bundle in use and swapped in when whole: a yard started meanwhile runs the old one, or dist/.
const out = path.join(cli, 'bundle.next');
const bundleFile = path.join(out, 'yard.cjs');
/** Native: required from node_modules at run time, never bundled. */
const NATIVE = ['@napi-rs/keyring'];
/** ES modules that need their own files (open runs the xdg-open beside it, found through import.meta.url): imported from node_modules. */
const AS_IS = ['open'];
/** ws's optional native speed-ups: it requires them in a try and does without. */
const OPTIONAL = ['bufferutil', 'utf-8-validate'];
/**
 * What only some commands load (YAML, the password prompt, WebSockets for `shell open`, a browser):
 * each in a file of its own under bundle/vendor/, required when first used, so that every start does
 * not read, deserialize and collect them.
 */
const VENDOR = { '@trainyard/shared/yaml': 'shared-yaml', '@inquirer/password': 'inquirer-password', ws: 'ws' };

const pjson = JSON.parse(readFileSync(path.join(cli, 'package.json'), 'utf8'));
// The bundle is its own oclif root: commands, the help class and hooks all come from yard.cjs itself.
const self = (identifier) => ({ target: './yard.cjs', identifier });
const bundledPjson = {
  name: pjson.name,
  version: pjson.version,
  description: pjson.description,
  type: 'commonjs',
  oclif: {
    ...pjson.oclif,
    commands: { strategy: 'explicit', target: './yard.cjs', identifier: 'COMMANDS' },
    helpClass: self('YardHelp'),
    hooks: Object.fromEntries(Object.entries(pjson.oclif.hooks ?? {}).map(([event, hook]) => [event, self(hook.identifier)])),
  },
};

const entry = `
import { main } from './dist/main.js';
export { COMMANDS } from './dist/commands.js';
export { YardHelp } from './dist/help.js';
${Object.values(pjson.oclif.hooks ?? {})
  .map((hook) => `export { ${hook.identifier} } from '${hook.target}';`)
  .join('\n')}
// Not awaited: oclif requires this very module for its commands.
void main({ loadOptions: { root: __dirname, pjson: ${JSON.stringify(bundledPjson)} } });
`;

/**
 * The packages that are not in the bundle, each as a require (the bundle is CommonJS run through
 * node:vm, where import() has no loader of its own): the native and as-is ones from node_modules
 * (require() of an ES module works from Node 20.19), the vendored ones from bundle/vendor/. The shim
 * names each export, so that a default export stays the default and named ones stay named.
 */
const requireShims = {
  name: 'require-shims',
  setup(b) {
    const from = (specifier) => (VENDOR[specifier] ? `./vendor/${VENDOR[specifier]}.cjs` : specifier);
    const names = [...NATIVE, ...AS_IS, ...Object.keys(VENDOR)];
    const filter = new RegExp(`^(${names.map((n) => n.replace(/[/@]/g, (c) => `\\${c}`)).join('|')})$`);
    b.onResolve({ filter }, (args) => (args.namespace === 'shim' ? { path: args.path, external: true } : { path: args.path, namespace: 'shim' }));
    b.onResolve({ filter: /^\.\/vendor\// }, (args) => ({ path: args.path, external: true }));
    b.onLoad({ filter: /.*/, namespace: 'shim' }, async (args) => {
      const exported = Object.keys(await import(args.path)).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      const contents = [
        `const loaded = require(${JSON.stringify(from(args.path))});`,
        ...exported.map((n) => `export const ${n} = loaded.${n};`),
        "export default loaded !== null && typeof loaded === 'object' && 'default' in loaded ? loaded.default : loaded;",
      ].join('\n');
      return { contents, loader: 'js', resolveDir: cli };
    });
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  stdin: { contents: entry, resolveDir: cli, sourcefile: 'yard-entry.js', loader: 'js' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: bundleFile,
  external: OPTIONAL,
  plugins: [requireShims],
  minify: process.env.YARD_BUNDLE_MINIFY !== '0',
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
});
if (result.errors.length > 0) process.exit(1);
// The API's schemas (zod) are the master's business: a value imported from '@trainyard/shared' instead
// of '@trainyard/shared/constants' (or /client) brings zod and every schema into each start.
const heavy = Object.keys(result.metafile.inputs).filter((input) => /node_modules\/(\.pnpm\/)?zod[@/]/.test(input));
if (heavy.length > 0) {
  console.error(`[bundle] zod is in the CLI's bundle (${heavy[0]}): import values from @trainyard/shared/constants, not @trainyard/shared`);
  process.exit(1);
}

for (const [specifier, name] of Object.entries(VENDOR)) {
  const vendor = await build({
    stdin: { contents: `module.exports = require(${JSON.stringify(specifier)});`, resolveDir: cli, sourcefile: `${name}-entry.js`, loader: 'js' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    outfile: path.join(out, 'vendor', `${name}.cjs`),
    external: [...OPTIONAL, ...NATIVE],
    minify: process.env.YARD_BUNDLE_MINIFY !== '0',
    legalComments: 'linked',
    logLevel: 'warning',
  });
  if (vendor.errors.length > 0) process.exit(1);
  // Loaded once here: a package that cannot be bundled (import.meta, files of its own) fails now, not in a user's hands.
  const loaded = createRequire(import.meta.url)(path.join(out, 'vendor', `${name}.cjs`));
  if (loaded === null || (typeof loaded !== 'object' && typeof loaded !== 'function') || Object.keys(loaded).length === 0) {
    console.error(`[bundle] vendor/${name}.cjs exports nothing`);
    process.exit(1);
  }
}

// oclif's manifest (every command's flags and args), so that a start reads one JSON file instead of
// building it; made from the compiled sources, which are what the bundle holds.
const { Config } = await import('@oclif/core');
const config = await Config.load({ root: cli });
const manifest = { ...config.rootPlugin.manifest, version: pjson.version };
writeFileSync(path.join(out, 'oclif.manifest.json'), JSON.stringify(manifest));

const old = path.join(cli, 'bundle.old');
rmSync(old, { recursive: true, force: true });
try {
  renameSync(final, old);
} catch (error) {
  if (error.code !== 'ENOENT') throw error;
}
renameSync(out, final);
rmSync(old, { recursive: true, force: true });

// The code cache: yard run once (a command that fails fast, against no master, in a throwaway home),
// so that the functions a start runs are compiled into it too.
const home = mkdtempSync(path.join(os.tmpdir(), 'yard-bundle-'));
try {
  const warm = spawnSync(process.execPath, [path.join(cli, 'bin', 'run.js'), 'experiment', 'list', '-m', 'http://127.0.0.1:1'], {
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: home, YARD_TOKEN_STORE: 'file', YARD_WRITE_CODE_CACHE: '1', YARD_MASTER: '', YARD_TOKEN: '' },
    encoding: 'utf8',
  });
  if (warm.status !== 1 || !/cannot reach the master/.test(warm.stderr)) {
    console.error(`[bundle] the bundle does not run: ${warm.stderr}${warm.stdout}`);
    process.exit(1);
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}
console.error(`[bundle] ${path.relative(process.cwd(), path.join(final, 'yard.cjs'))}: ${Object.keys(manifest.commands).length} commands, with its code cache`);
