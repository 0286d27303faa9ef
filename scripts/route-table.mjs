#!/usr/bin/env node
// Prints docs/routes.md from the master's own router: every route, its check, its capability.
//   node scripts/route-table.mjs > docs/routes.md      (after a build; test/routes.test.ts checks it)
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { defaultConfig, renderRouteTable, startMaster } from '@trainyard/master';

const dir = mkdtempSync(path.join(os.tmpdir(), 'yard-routes-'));
try {
  const config = defaultConfig({ listen: { host: '127.0.0.1', port: 0 }, db: { path: path.join(dir, 'routes.db') } });
  const master = await startMaster({ config, logger: pino({ level: 'silent' }) });
  process.stdout.write(renderRouteTable(master.routes));
  await master.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
