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
  socket.setKeepAlive = () => socket;
  socket.setNoDelay = () => socket;
  socket.setTimeout = (_ms: number, callback?: () => void) => {
    // Idle sockets are closed by the pool's own timer; a callback asked for is never due.
    void callback;
    return socket;
  };
  socket.ref = () => socket;
  socket.unref = () => socket;
  return stream;
}
