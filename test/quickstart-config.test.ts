import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ConfigError, loadConfig } from '@trainyard/master';
import { ROOT } from './helpers/cli.js';
import { tempDir } from './helpers/cluster.js';

// The quick start's config (examples/quickstart.yaml) is master.yaml plus what it relaxes, through
// `extends:`; master.yaml itself keeps the safe defaults.

test('master.yaml keeps the safe defaults; the quick start relaxes only what the README says', (t) => {
  const production = loadConfig(path.join(ROOT, 'master.yaml'), {});
  const quickstart = loadConfig(path.join(ROOT, 'examples', 'quickstart.yaml'), {});
  t.is(production.policy.system?.images?.pull, 'never');
  t.deepEqual(production.policy.system?.mounts, { always: [], default: [], available: [] });
  t.is(production.tasks.images.command, 'python:3.11-slim');

  t.is(quickstart.policy.system?.images?.pull, 'if_missing');
  t.deepEqual(quickstart.policy.system?.mounts?.default, [{ host_path: path.join(ROOT, 'scratch'), container_path: '/mnt', read_only: false }]);
  t.is(quickstart.tasks.images.command, 'localhost/trainyard/quickstart:latest');
  t.is(quickstart.tasks.images.shell, 'localhost/trainyard/quickstart:latest');
  // The rest is master.yaml's, paths relative to it.
  t.is(quickstart.db.path, path.join(ROOT, 'data', 'trainyard.db'));
  t.is(quickstart.agents.token_file, path.join(ROOT, 'data', 'agent.token'));
  const { policy: _p, tasks: _t, ...rest } = quickstart;
  const { policy: _pp, tasks: _tt, ...productionRest } = production;
  t.deepEqual(rest, productionRest);
  t.deepEqual(quickstart.policy.system?.capabilities, production.policy.system?.capabilities);
  t.deepEqual(quickstart.security, production.security);
});

test('extends: mappings merge key by key, lists replace, relative paths are relative to the file that names them; env still wins', (t) => {
  const dir = tempDir('yard-extends-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'base'));
  mkdirSync(path.join(dir, 'site'));
  writeFileSync(
    path.join(dir, 'base', 'master.yaml'),
    'db: {path: ./data/base.db}\nagents: {token_file: ./agent.token, kill_grace: 3s}\n' +
      'policy:\n  system:\n    images: {allow: ["a/.*"], pull: never}\n    mounts: {available: [{host_path: ./from-base}, {host_path: /abs}]}\n',
  );
  writeFileSync(
    path.join(dir, 'site', 'overlay.yaml'),
    'extends: ../base/master.yaml\nagents: {lost_timeout: 7s}\npolicy:\n  system:\n    images: {pull: if_missing}\n    mounts: {default: [{host_path: ../scratch, container_path: /mnt}]}\n',
  );
  const config = loadConfig(path.join(dir, 'site', 'overlay.yaml'), { YARD_PORT: '9999' });
  t.is(config.db.path, path.join(dir, 'base', 'data', 'base.db'));
  t.is(config.agents.token_file, path.join(dir, 'base', 'agent.token'));
  t.is(config.agents.kill_grace, 3000);
  t.is(config.agents.lost_timeout, 7000);
  t.deepEqual(config.policy.system?.images, { allow: ['a/.*'], pull: 'if_missing' });
  t.deepEqual(
    config.policy.system?.mounts?.available?.map((m) => m.host_path),
    [path.join(dir, 'base', 'from-base'), '/abs'],
  );
  t.is(config.policy.system?.mounts?.default?.[0]?.host_path, path.join(dir, 'scratch'));
  t.is(config.listen.port, 9999);
});

test('extends: a cycle, a missing file, or a host path written without ./ are refused with the key', (t) => {
  const dir = tempDir('yard-extends-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'a.yaml'), 'extends: ./b.yaml\n');
  writeFileSync(path.join(dir, 'b.yaml'), 'extends: ./a.yaml\n');
  t.throws(() => loadConfig(path.join(dir, 'a.yaml'), {}), { instanceOf: ConfigError, message: /extends: \.\/a\.yaml extends .*b\.yaml in turn|extends: \.\/b\.yaml extends .*a\.yaml in turn/ });
  writeFileSync(path.join(dir, 'c.yaml'), 'extends: ./missing.yaml\n');
  t.throws(() => loadConfig(path.join(dir, 'c.yaml'), {}), { instanceOf: ConfigError, message: /cannot read config file .*missing\.yaml/ });
  writeFileSync(path.join(dir, 'd.yaml'), 'extends: 7\n');
  t.throws(() => loadConfig(path.join(dir, 'd.yaml'), {}), { instanceOf: ConfigError, message: /extends: must be the path of another config file/ });
  writeFileSync(path.join(dir, 'e.yaml'), 'policy: {system: {mounts: {available: [{host_path: scratch}]}}}\n');
  t.throws(() => loadConfig(path.join(dir, 'e.yaml'), {}), { instanceOf: ConfigError, message: /host_path.*"scratch" must be an absolute path/s });
});
