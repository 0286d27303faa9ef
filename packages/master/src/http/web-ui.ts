import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';
import serve from 'koa-static';
import { API_PREFIX } from '@trainyard/shared';
import type { AppState } from './app-state.js';

/** packages/web/dist, next to this package in the workspace. */
export const DEFAULT_WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web', 'dist');

/**
 * The single-page UI: built files as they are, and index.html for every other page path so
 * that the UI's own router shows it (a reload of /experiments/12 works).
 */
export function webUi(root: string): Middleware<AppState>[] {
  const index = path.join(root, 'index.html');
  if (!existsSync(index)) {
    return [
      async (ctx, next) => {
        if (ctx.method !== 'GET' || ctx.path.startsWith(API_PREFIX)) return next();
        ctx.status = 503;
        ctx.type = 'text/plain';
        ctx.body = `The web UI is not built (no ${index}): run the README's set-up command.\n`;
      },
    ];
  }
  const html = readFileSync(index, 'utf8');
  return [
    serve(root, { index: false, maxage: 3600_000, immutable: false }) as Middleware<AppState>,
    async (ctx, next) => {
      if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.path.startsWith(API_PREFIX)) return next();
      ctx.type = 'html';
      ctx.set('cache-control', 'no-cache');
      ctx.set('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
      ctx.set('x-frame-options', 'DENY');
      ctx.body = html;
    },
  ];
}
