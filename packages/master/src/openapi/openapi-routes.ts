import type Router from '@koa/router';
import { publicPolicies } from '../authz/public.js';
import { Routes, type Guards, type RouteInfo } from '../authz/routes.js';
import type { AppState } from '../http/app-state.js';
import { openApiDocument } from './openapi-document.js';
import { renderOpenApiPage } from './openapi-page.js';

/**
 * `GET /api/v1/openapi.json` (OpenAPI 3.1) and `GET /api/docs` (the same as a page, beside the
 * API), open to anyone like `/version`: a description of the API tells nothing a client could not
 * try. Both are made once, from the router as it was built (`routes` is read at the first request).
 */
export function openApiRoutes(guards: Guards, routes: () => RouteInfo[]): { api: Router<AppState>; root: Router<AppState> } {
  const api = new Routes(guards);
  const root = new Routes(guards);
  let made: { json: string; html: string } | undefined;
  const document = () => {
    if (!made) {
      const doc = openApiDocument(routes());
      made = { json: JSON.stringify(doc), html: renderOpenApiPage(doc) };
    }
    return made;
  };
  api.on('openapi', publicPolicies.openapi, async (ctx) => {
    ctx.type = 'json';
    ctx.body = document().json;
  });
  root.on('openapi.page', publicPolicies.openapiPage, async (ctx) => {
    ctx.type = 'html';
    // Nothing but its own inline style: no script, no image, no frame, nothing from elsewhere.
    ctx.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    ctx.set('x-frame-options', 'DENY');
    ctx.body = document().html;
  });
  return { api: api.router, root: root.router };
}
