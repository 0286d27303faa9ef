import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Middleware } from 'koa';
import { SESSION_COOKIE, sameOriginPath } from '@trainyard/shared';
import { enforce } from '../authz/decision.js';
import type { Guards } from '../authz/routes.js';
import { taskPolicies } from '../authz/tasks.js';
import { DomainError } from '../errors.js';
import type { AppContext, AppState } from '../http/app-state.js';
import { takeUpgrade } from '../http/upgrade.js';
import type { TaskService } from '../tasks/task-service.js';
import { exchange, requestHead } from './http-exchange.js';
import type { LiveRun } from '../resource-managers/resource-manager.js';
import type { InteractiveService } from './interactive-service.js';
import type { ServiceConnections } from './service-connections.js';
import type { ServicesOrigin } from './services-origin.js';

/** How much of an answer may wait in the master for the user's connection before the service's is paused. */
const UNSENT_BYTES = 256 * 1024;

const PROXIED = /^\/proxy\/(\d{1,12})(\/.*)$/;

/** Headers of one hop (RFC 9110 7.6.1): never forwarded as they are. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * `/proxy/<task id>/...`: a running task's service (Jupyter, TensorBoard, anything on its port),
 * HTTP and WebSocket, streamed both ways. Every request passes the user guard and the check
 * `tasks.open` (the owner, `operate_others` covering the owner, admins), as the bound entry route
 * `GET /proxy/:id` does; a browser with no session is sent to the login page and back. The service
 * never sees the Trainyard session cookie or an Authorization header.
 */
export function serviceProxy(deps: { tasks: TaskService; interactive: InteractiveService; guards: Guards }): Middleware<AppState> {
  const { tasks, interactive, guards } = deps;
  return async (ctx, next) => {
    const match = PROXIED.exec(ctx.path);
    if (!match) return next();
    await guards.user(ctx, async () => undefined);
    const target = await tasks.target(Number(match[1]));
    enforce(taskPolicies.open.check(ctx.state.actor!, target));
    const run = interactive.live(target.task);
    const port = interactive.port(target.task);
    interactive.touch(run.taskId);
    if (ctx.get('upgrade')) refuseForeignOrigin(ctx);
    const upgrade = takeUpgrade(ctx);
    if (upgrade) return passUpgrade(ctx, upgrade, interactive, run, port);
    await forward(ctx, interactive.connections(run, port));
  };
}

/**
 * Browsers without a session go to the login page and come back; API clients get the 401. From
 * the services origin the login page is the master's: it sends the browser back to the master's
 * proxy path, which sends it on to the services origin.
 */
export function loginRedirect(services: ServicesOrigin): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const browser = ctx.method === 'GET' && ctx.accepts(['json', 'html']) === 'html' && !ctx.get('upgrade');
      if (!(error instanceof DomainError) || error.code !== 'UNAUTHENTICATED' || !browser || !ctx.path.startsWith('/proxy/')) throw error;
      const login = services.isServicesRequest(ctx) ? `${services.mainOrigin(ctx.state.client)}/login` : '/login';
      // Only a path that stays on this site once a browser resolves it (`/proxy/1/../..//evil.example` does not).
      const back = sameOriginPath(ctx.originalUrl, `${ctx.state.client.protocol}://${ctx.state.client.host}`);
      ctx.redirect(back === undefined ? login : `${login}?redirect=${encodeURIComponent(back)}`);
    }
  };
}

/**
 * Cross-site WebSocket hijacking: browsers send cookies with a WebSocket from any page, and no
 * CORS rule stops it, so an upgrade that says where it comes from must come from this site.
 */
function refuseForeignOrigin(ctx: AppContext): void {
  const origin = ctx.get('origin');
  if (origin && !ctx.state.site.isOwnOrigin(origin, ctx.state.client)) {
    throw new DomainError('FORBIDDEN', `a WebSocket from ${origin} may not open a Trainyard task's service`);
  }
}

/**
 * Streams the request to the service over a kept-alive connection and its answer back as it
 * comes; neither is held whole. Until the answer's head is sent a failure is a 502 saying why;
 * after it, the user's connection is cut (a truncated body must not look complete).
 */
async function forward(ctx: AppContext, connections: ServiceConnections): Promise<void> {
  const stream = await connections.acquire().catch((error: Error) => {
    throw badGateway(error);
  });
  const res = ctx.res;
  // The user went away: the connection is closed, which ends the exchange.
  const gone = () => {
    if (!res.writableFinished) stream.destroy();
  };
  res.on('close', gone);
  try {
    const request = { method: ctx.method, path: ctx.url, headers: forwardedHeaders(ctx, false), body: ctx.req };
    const { reusable } = await exchange(stream, request, {
      head: (status, message, rawHeaders) => {
        // A head Node refuses to send (a header with invalid characters) throws here: still a 502.
        res.writeHead(status, message, answerHeaders(rawHeaders));
        ctx.respond = false;
      },
      body: (chunk) => {
        // Not paused at every chunk the user's socket has not taken yet: each pause is two syscalls.
        if (res.write(chunk) || res.writableLength < UNSENT_BYTES) return undefined;
        return new Promise((resolve) => res.once('drain', resolve));
      },
      end: () => res.end(),
    });
    connections.release(stream, reusable);
  } catch (error) {
    connections.release(stream, false);
    if (ctx.respond !== false) throw badGateway(error as Error);
    res.destroy();
  } finally {
    res.off('close', gone);
  }
}

function badGateway(error: Error): DomainError {
  return new DomainError('BAD_GATEWAY', `the task's service did not answer: ${error.message}`);
}

/**
 * The answer's headers as the user gets them: without hop-by-hop headers (and those its
 * Connection header names), and without any Set-Cookie for the master's session cookie (a service
 * may not set or overwrite it). A repeated header is joined as Node does (Set-Cookie stays a list).
 */
function answerHeaders(raw: string[]): http.OutgoingHttpHeaders {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const token of raw[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
  }
  const headers: http.OutgoingHttpHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    if (name === 'set-cookie') {
      if (!value.trimStart().startsWith(`${SESSION_COOKIE}=`)) headers[name] = [...((headers[name] as string[] | undefined) ?? []), value];
      continue;
    }
    const before = headers[name];
    headers[name] = before === undefined ? value : `${String(before)}, ${value}`;
  }
  return headers;
}

/** A WebSocket (Jupyter's kernels): the request goes to the service as it came (less our credentials), then bytes both ways. */
async function passUpgrade(
  ctx: AppContext,
  upgrade: { socket: Duplex; head: Buffer },
  interactive: InteractiveService,
  run: LiveRun,
  port: number,
): Promise<void> {
  const { socket, head } = upgrade;
  let stream: Duplex;
  try {
    stream = await interactive.dialPort(run, port);
  } catch (error) {
    socket.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-type: text/plain\r\n\r\n${(error as Error).message}\n`);
    return;
  }
  const closed = interactive.sessionOpened(run.taskId);
  stream.write(requestHead({ method: ctx.method, path: ctx.url, headers: forwardedHeaders(ctx, true) }));
  if (head.length > 0) stream.write(head);
  socket.pipe(stream).pipe(socket);
  const end = () => {
    closed();
    socket.destroy();
    stream.destroy();
  };
  socket.on('close', end);
  stream.on('close', end);
  socket.on('error', end);
  stream.on('error', end);
}

/**
 * What the service is sent: the request's headers without Authorization, without the Trainyard
 * session cookie (its own cookies stay), without hop-by-hop headers (but an upgrade's own), with
 * X-Forwarded-* saying where the request came from.
 */
function forwardedHeaders(ctx: AppContext, upgrade: boolean): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (value === undefined || name === 'authorization' || name.startsWith('x-forwarded-')) continue;
    if (HOP_BY_HOP.has(name) && !(upgrade && (name === 'connection' || name === 'upgrade'))) continue;
    if (name === 'cookie') {
      const kept = String(value)
        .split(';')
        .filter((c) => c.trim() !== '' && c.split('=')[0]!.trim() !== SESSION_COOKIE)
        .join(';')
        .trim();
      if (kept) headers.cookie = kept;
      continue;
    }
    headers[name] = value;
  }
  const { client } = ctx.state;
  headers['x-forwarded-for'] = client.address;
  headers['x-forwarded-proto'] = client.protocol;
  if (client.host) headers['x-forwarded-host'] = client.host;
  return headers;
}
