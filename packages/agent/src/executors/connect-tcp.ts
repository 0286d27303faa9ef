import net, { type Socket } from 'node:net';
import type { Writable } from 'node:stream';

/**
 * How much one read from a task's service may take. Large reads are few syscalls and few
 * callbacks per megabyte; the buffer is allocated once per connection.
 */
const READ_BUFFER_BYTES = 1024 * 1024;

/** A TCP connection to a task's service, and the fast way to send what it receives on. */
export interface TcpConnection {
  /** The connection itself: written to (the user's side of the stream), ended, destroyed as any socket. */
  readonly socket: Socket;
  /** Sends everything the service sends to `dest`, as fast as `dest` takes it, and ends `dest` when the service ends. */
  pipeTo(dest: Writable): void;
}

/**
 * A TCP connection, once it is established (or the reason it could not be).
 *
 * What the service sends is read into one buffer that is reused for every read (Node's `onread`)
 * rather than a new buffer per read: a download through the proxy is every byte of it passing
 * here, and a fresh buffer per read turned into garbage collections that cost the agent more than
 * the copying did (P9 in `pnpm bench`). The buffer is read into again only once the bytes are
 * written on: at once when `dest` takes them, or after its write completes.
 */
export function connectTcp(host: string, port: number): Promise<TcpConnection> {
  return new Promise((resolve, reject) => {
    let sink: ((bytes: Buffer) => boolean) | undefined;
    // Whatever arrives before pipeTo (a greeting, say): copied, since the buffer is read into again.
    const early: Buffer[] = [];
    const socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (length, buffer) => {
          const bytes = Buffer.from(buffer.buffer, buffer.byteOffset, length);
          if (sink) return sink(bytes);
          early.push(Buffer.from(bytes));
          return true;
        },
      },
    });
    const pipeTo = (dest: Writable) => {
      for (const bytes of early.splice(0)) dest.write(bytes);
      let waiting = false;
      sink = (bytes) => {
        dest.write(bytes, () => {
          if (!waiting) return;
          waiting = false;
          socket.resume();
        });
        // Written synchronously (the kernel took it all): the buffer is free again.
        if (dest.writableLength === 0) return true;
        // Returning false pauses reading until the write that still holds the buffer completes.
        waiting = true;
        return false;
      };
      socket.on('end', () => dest.end());
      socket.resume();
    };
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({ socket, pipeTo });
    });
    socket.once('error', reject);
  });
}
