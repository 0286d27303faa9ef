import type http from 'node:http';
import type { FetchedResponse, FetchLike } from '@trainyard/shared/client';

/**
 * The client's HTTP over node:http(s): Node's own fetch (undici) costs every `yard` start some
 * 30 ms to load, more than the rest of a request. Only what the client uses: a method, headers,
 * a text body, an abort signal (its reason is what a call rejects with, as fetch does), the
 * status, headers and text of the answer. A failed request rejects as fetch's do: a TypeError
 * whose `cause` is the system's error (ECONNREFUSED, a certificate's code). Certificates are
 * checked as everywhere in Node (NODE_EXTRA_CA_CERTS adds a CA).
 */
export const nodeFetch: FetchLike = (url, init) =>
  new Promise<FetchedResponse>((resolve, reject) => {
    const { signal } = init;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const target = new URL(url);
    const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
    // Loaded at the first request, and only the one needed: node:https brings TLS with it.
    const transport = process.getBuiltinModule(target.protocol === 'https:' ? 'node:https' : 'node:http') as typeof http;
    const request = transport.request(target, {
      method: init.method,
      headers: { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
    });
    let response: http.IncomingMessage | undefined;
    const onAbort = () => {
      request.destroy(signal!.reason as Error);
      response?.destroy(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    request.on('error', (error) => {
      done();
      reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }));
    });
    request.on('response', (res) => {
      response = res;
      const text = new Promise<string>((ok, fail) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          done();
          ok(Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', (error) => {
          done();
          fail(signal?.aborted ? signal.reason : new TypeError('terminated', { cause: error }));
        });
      });
      // Read or not, a failure of the body must not go unhandled; text() still rejects with it.
      text.catch(() => undefined);
      const status = res.statusCode ?? 0;
      resolve({
        status,
        ok: status >= 200 && status < 300,
        headers: {
          get: (name) => {
            const value = res.headers[name.toLowerCase()];
            return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
          },
        },
        text: () => text,
      });
    });
    request.end(body);
  });
