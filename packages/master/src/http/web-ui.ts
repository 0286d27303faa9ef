import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';
import serve from 'koa-static';
import { matchWebPage } from '@trainyard/shared';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/**
 * The built web UI: `web/` inside the installed package (scripts/pack.mjs puts it there), else
 * packages/web/dist next to this package in the workspace.
 */
export const DEFAULT_WEB_ROOT = [path.resolve(here, '..', '..', 'web'), path.resolve(here, '..', '..', '..', 'web', 'dist')].find((root) =>
  existsSync(path.join(root, 'index.html')),
) ?? path.resolve(here, '..', '..', '..', 'web', 'dist');

const isPageRequest = (ctx: { method: string; path: string }) =>
  (ctx.method === 'GET' || ctx.method === 'HEAD') && matchWebPage(ctx.path) !== undefined;

/**
 * A browser asking for a page the UI does not have (it says it wants HTML): the UI's own 404 page,
 * with status 404. API paths, and clients that do not ask for HTML, get the JSON 404.
 */
const isMissingPage = (ctx: { method: string; path: string; get(name: string): string }) =>
  (ctx.method === 'GET' || ctx.method === 'HEAD') && !ctx.path.startsWith('/api/') && /\btext\/html\b/.test(ctx.get('accept'));

/**
 * The single-page UI: built files as they are, and index.html for the UI's own page paths
 * (`matchWebPage`, shared with the UI's router) so that a reload of /experiments/12 works.
 * Every other path falls through to the JSON 404.
 */
export function webUi(root: string): Middleware<AppState>[] {
  const index = path.join(root, 'index.html');
  if (!existsSync(index)) {
    return [
      async (ctx, next) => {
        if (!isPageRequest(ctx)) return next();
        throw new DomainError('NOT_READY', `the web UI is not built (no ${index}): run the README's set-up command`);
      },
    ];
  }
  const html = readFileSync(index, 'utf8');
  return [
    serve(root, { index: false, maxage: 3600_000, immutable: false }) as Middleware<AppState>,
    async (ctx, next) => {
      const missing = !isPageRequest(ctx) && isMissingPage(ctx);
      if (!isPageRequest(ctx) && !missing) return next();
      if (missing) ctx.status = 404;
      ctx.type = 'html';
      ctx.set('cache-control', 'no-cache');
      ctx.set('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
      ctx.set('x-frame-options', 'DENY');
      ctx.body = html;
    },
  ];
}
