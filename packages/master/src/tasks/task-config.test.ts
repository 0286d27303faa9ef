import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parseTaskConfig, type TaskDefaults } from './task-config.js';

const made: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
};
test.after.always(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const defaults: TaskDefaults = {
  images: { command: 'c:1', notebook: 'jupyter/base-notebook:latest', tensorboard: 't:1', shell: 's:1' },
  ports: { notebook: 8888, tensorboard: 6006 },
};

/**
 * The default notebook command, run by sh as in a container whose PATH has the given Jupyter
 * programs: stand-ins that print how they were called.
 */
function runDefaultNotebook(programs: string[], options: { cwd?: string; uid0?: boolean; asNobody?: boolean } = {}) {
  const [shell, flag, script] = parseTaskConfig('notebook', {}, defaults).entrypoint as [string, string, string];
  const bin = tempDir('yard-jupyter-bin-');
  chmodSync(bin, 0o755);
  for (const program of programs) {
    writeFileSync(path.join(bin, program), `#!/bin/sh\necho "${program} $*"\n`);
    chmodSync(path.join(bin, program), 0o755);
  }
  // `id -u` says root or not, whoever runs the test.
  writeFileSync(path.join(bin, 'id'), `#!/bin/sh\necho ${options.uid0 ? 0 : 1000}\n`);
  chmodSync(path.join(bin, 'id'), 0o755);
  const home = tempDir('yard-jupyter-home-');
  if (options.asNobody) chownSync(home, 65534, 65534);
  return spawnSync(shell, [flag, script], {
    cwd: options.cwd ?? home,
    ...(options.asNobody ? { uid: 65534, gid: 65534 } : {}),
    env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, TRAINYARD_PROXY_PATH: '/proxy/7/' },
    encoding: 'utf8',
  });
}

test('the default notebook runs JupyterLab where the image has it, with its base URL, no token and the start directory', (t) => {
  const run = runDefaultNotebook(['jupyter-lab', 'jupyter-notebook']);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /^jupyter-lab --ip=0\.0\.0\.0 --no-browser --port=8888 --notebook-dir=\/\S+ /);
  t.regex(run.stdout, / --ServerApp\.base_url=\/proxy\/7\/ --ServerApp\.token= --ServerApp\.password= --ServerApp\.allow_remote_access=True/);
  t.notRegex(run.stdout, /allow-root/);
});

test("an image with only the classic notebook server (Debian's jupyter-notebook 6) gets NotebookApp's options", (t) => {
  const run = runDefaultNotebook(['jupyter-notebook'], { uid0: true });
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /^jupyter-notebook --ip=0\.0\.0\.0 --no-browser --port=8888 --notebook-dir=\S+ --allow-root --NotebookApp\.base_url=\/proxy\/7\/ --NotebookApp\.token= /);
});

test('a start directory the uid cannot write is not served: HOME is', (t) => {
  // Not writable for the script: read-only for its owner, or (the test running as root, which
  // writes anywhere) root's own while the script runs as nobody.
  const closed = tempDir('yard-jupyter-closed-');
  chmodSync(closed, 0o555);
  const run = runDefaultNotebook(['jupyter-lab'], { cwd: closed, asNobody: process.getuid?.() === 0 });
  t.is(run.status, 0, run.stderr);
  const served = /--notebook-dir=(\S+)/.exec(run.stdout)?.[1];
  t.not(served, closed);
  t.regex(served ?? '', /yard-jupyter-home-/);
});

test('an image without Jupyter: the task fails saying what is missing', (t) => {
  const run = runDefaultNotebook([]);
  t.is(run.status, 127);
  t.regex(run.stderr, /neither jupyter-lab nor jupyter-notebook/);
});
