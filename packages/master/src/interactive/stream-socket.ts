import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';

/**
 * A dialled-back WebSocket as a byte stream that Node's HTTP client can use as its socket
 * (`http.Agent#createConnection`): the stream itself, with the socket methods the client and
 * its keep-alive pool call (no-ops: there is no TCP socket of ours to tune). Flow control is the
 * WebSocket stream's own (it pauses the sender while the reader is behind).
 */
export function streamSocket(ws: WebSocket): Duplex {
  const stream = createWebSocketStream(ws);
  const socket = stream as Duplex & Record<string, unknown>;
  // Like a TCP socket without allowHalfOpen: the service closing its end closes ours, so that the
  // pool drops the connection instead of sending the next request into a stream that is ending.
  stream.on('end', () => stream.destroy());
  // setTimeout as net.Socket has it: 'timeout' after that long without traffic either way (the
  // pool closes idle connections with it before the service's own keep-alive timeout does).
  let idleMs = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    if (idleMs > 0 && !stream.destroyed) timer = setTimeout(() => stream.emit('timeout'), idleMs).unref();
  };
  ws.on('message', arm);
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  socket.write = (...args: unknown[]) => {
    arm();
    return write(...args);
  };
  stream.on('close', () => clearTimeout(timer));
  socket.setTimeout = (ms: number, callback?: () => void) => {
    idleMs = ms;
    if (callback) stream.once('timeout', callback);
    arm();
    return socket;
  };
  socket.setKeepAlive = () => socket;
  socket.setNoDelay = () => socket;
  socket.ref = () => socket;
  socket.unref = () => socket;
  return stream;
}
