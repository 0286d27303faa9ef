#!/usr/bin/env node
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

// `--no-color` (before any `--`) is said to the environment before anything that colours is loaded:
// oclif's help decides when it loads.
const argv = process.argv.slice(2);
if (argv.slice(0, argv.includes('--') ? argv.indexOf('--') : argv.length).includes('--no-color')) process.env.NO_COLOR = '1';

// The single-file bundle (scripts/bundle.mjs: a fast start) when it is there and no build since has
// changed the compiled sources; else those sources themselves, which the bundle is made of.
const bundle = fileURLToPath(new URL('../bundle/yard.cjs', import.meta.url));
const mtime = (file) => {
  try {
    return statSync(fileURLToPath(new URL(file, import.meta.url))).mtimeMs;
  } catch {
    return undefined;
  }
};
const built = mtime('../bundle/yard.cjs');
const stale = ['../tsconfig.tsbuildinfo', '../../shared/tsconfig.tsbuildinfo'].some((file) => (mtime(file) ?? 0) > built);
if (built !== undefined && !stale) runBundle(bundle);
else await (await import('../dist/main.js')).main({ dir: import.meta.url });

/**
 * Runs the bundle as the CommonJS module it is, compiled with the V8 code cache made beside it
 * (a cache V8 does not accept, for another Node, is ignored: it then compiles as usual). Kept in
 * require's cache under its own name: oclif requires it again for the commands it exports.
 */
function runBundle(file) {
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), {
    filename: file,
    cachedData,
    // import() in the bundle (oclif's, for plugins yard does not have) as in any module.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (process.env.YARD_DEBUG_CODE_CACHE) process.stderr.write(`code cache: ${cachedData ? (script.cachedDataRejected ? 'rejected' : 'used') : 'none'}\n`);
  const require = createRequire(file);
  const module = new Module(file);
  module.filename = file;
  module.paths = Module._nodeModulePaths(path.dirname(file));
  require.cache[file] = module;
  if (process.env.YARD_WRITE_CODE_CACHE === '1') {
    // scripts/bundle.mjs: once this run has compiled what a start needs, keep it.
    process.once('exit', () => {
      // Whole or not at all, for a yard that starts meanwhile.
      writeFileSync(`${cacheFile}.${process.pid}`, script.createCachedData());
      renameSync(`${cacheFile}.${process.pid}`, cacheFile);
    });
  }
  script.runInThisContext().call(module.exports, module.exports, require, module, file, path.dirname(file));
  module.loaded = true;
}
