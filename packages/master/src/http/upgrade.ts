import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppContext, RouteContext } from './app-state.js';

/** An HTTP upgrade (WebSocket) travelling through the Koa chain: its socket, taken by the route that accepts it. */
interface Upgrade {
  socket: Duplex;
  head: Buffer;
  res: http.ServerResponse;
}

const UPGRADE = Symbol('trainyard.upgrade');
type UpgradeRequest = http.IncomingMessage & { [UPGRADE]?: Upgrade };

/**
 * Upgrades go through the same Koa chain as every request (request id and log, the Host check,
 * the error mapper, the bound route with its guard and named check): the request is handed to the
 * app with a response written straight onto the socket, so a refusal is an ordinary HTTP answer
 * in the documented error shape. The route that accepts the upgrade takes the socket
 * (`takeUpgrade`); nothing else ever writes to it then.
 */
export function upgradeHandler(app: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  return (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.on('finish', () => socket.end());
    socket.on('error', () => socket.destroy());
    (req as UpgradeRequest)[UPGRADE] = { socket, head, res };
    app(req, res);
  };
}

/**
 * The request's upgrade to `protocol`, taken from the response (which will never be written):
 * undefined for a plain request or an upgrade to anything else.
 */
export function takeUpgrade(ctx: AppContext | RouteContext, protocol = 'websocket'): { socket: Duplex; head: Buffer } | undefined {
  const req = ctx.req as UpgradeRequest;
  const upgrade = req[UPGRADE];
  if (!upgrade || ctx.get('upgrade').toLowerCase() !== protocol) return undefined;
  delete req[UPGRADE];
  upgrade.res.detachSocket(upgrade.socket as Socket);
  upgrade.res.removeAllListeners('finish');
  ctx.respond = false;
  // For the access log: the request was switched to another protocol.
  ctx.status = 101;
  return { socket: upgrade.socket, head: upgrade.head };
}

const server = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });

/** Accepts a taken upgrade as a WebSocket (ours: the agent's stream, the CLI's shell). */
export function acceptWebSocket(ctx: AppContext | RouteContext, upgrade: { socket: Duplex; head: Buffer }): Promise<WebSocket> {
  return new Promise((resolve) => server.handleUpgrade(ctx.req, upgrade.socket, upgrade.head, resolve));
}

/**
 * Accepts a taken upgrade to a plain byte stream (`protocol`, the agent's `trainyard-tcp`): after
 * the 101 the socket is the stream itself, nothing framed, nothing parsed.
 */
export function acceptTunnel(upgrade: { socket: Duplex; head: Buffer }, protocol: string): Duplex {
  const { socket, head } = upgrade;
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`);
  if (head.length > 0) socket.unshift(head);
  (socket as Socket).setNoDelay?.(true);
  return socket;
}
