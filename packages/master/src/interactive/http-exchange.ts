import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { HTTPParser } from 'http-parser-js';

/** What is sent to a task's service: the request line's parts and its headers; `body` as it arrives (framed by its own headers). */
export interface ServiceRequest {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  /** The user's request, whose body (if it has one) is streamed on. */
  body?: IncomingMessage;
}

/** Where the service's answer goes, as it arrives. */
export interface AnswerSink {
  /** The final answer's head (1xx informational answers are skipped): raw header names and values, alternating. */
  head(status: number, message: string, rawHeaders: string[]): void;
  /** A piece of the body; a promise: the sink is full, read nothing more until it settles. */
  body(chunk: Buffer): Promise<void> | undefined;
  /** The body ended as its framing said. */
  end(): void;
}

/**
 * One HTTP/1.1 request and its answer over a stream to a task's service (a keep-alive connection
 * its agent dialled back). The answer's bytes are parsed only for their framing (http-parser-js)
 * and handed to `sink` as they come: the proxy then relays a download with one copy and no
 * intermediate stream, which is most of what it costs (P9 in `pnpm bench`). Resolves once the
 * answer ended, with whether the stream may carry another request; rejects if the stream broke
 * first or the answer was not HTTP.
 */
export function exchange(stream: Duplex, request: ServiceRequest, sink: AnswerSink): Promise<{ reusable: boolean }> {
  return new Promise((resolve, reject) => {
    const parser = new HTTPParser(HTTPParser.RESPONSE);
    let informational = false;
    let keepAlive = false;
    let finished = false;
    const framing = bodyFraming(request);
    let bodySent = framing === 'none';
    const settle = (error?: Error) => {
      if (finished) return;
      finished = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
      stream.off('error', onClose);
      if (error) reject(error);
      else resolve({ reusable: keepAlive && bodySent });
    };

    parser[HTTPParser.kOnHeadersComplete] = (info) => {
      if (finished) return 1;
      // 100 Continue, 103 Early Hints: the real answer follows.
      informational = info.statusCode >= 100 && info.statusCode < 200;
      if (informational) return 0;
      if (info.upgrade) throw new Error(`the service switched protocols (HTTP ${info.statusCode}) on a request that asked for none`);
      const ambiguous = framingAmbiguity(info.headers);
      if (ambiguous) throw new Error(ambiguous);
      keepAlive = info.shouldKeepAlive;
      sink.head(info.statusCode, info.statusMessage, info.headers);
      // An answer to HEAD has the headers of a body but none follows.
      return request.method === 'HEAD' ? 1 : 0;
    };
    parser[HTTPParser.kOnBody] = (chunk, offset, length) => {
      if (finished) return;
      const full = sink.body(chunk.subarray(offset, offset + length));
      if (full) {
        stream.pause();
        full.then(
          () => stream.resume(),
          () => stream.destroy(),
        );
      }
    };
    parser[HTTPParser.kOnMessageComplete] = () => {
      if (informational || finished) return;
      // Bytes past the end of the answer (the parser's place in the chunk it is reading): whatever
      // they are, the stream is not fit to carry another request.
      const { offset, end } = parser as unknown as { offset: number; end: number };
      if (offset < end) keepAlive = false;
      sink.end();
      settle();
    };

    const onData = (chunk: Buffer) => {
      let parsed: number | Error;
      try {
        parsed = parser.execute(chunk);
      } catch (error) {
        parsed = error as Error;
      }
      if (parsed instanceof Error) {
        stream.destroy();
        settle(new Error(`the service's answer is not HTTP/1.1 (${parsed.message})`));
      }
    };
    // A body that runs to the end of the connection ends here (HTTP/1.0, or no length given).
    const onEnd = () => {
      parser.finish();
      settle(new Error('the service closed the connection before its answer ended'));
    };
    const onClose = () => settle(new Error('the connection to the service closed before its answer ended'));
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onClose);
    stream.on('error', onClose);

    stream.write(requestHead(request, framing));
    if (request.body && framing !== 'none') sendBody(request.body, stream, framing).then(() => (bodySent = true), () => stream.destroy());
  });
}

/**
 * Why an answer's framing could be read two ways, if it can. The body is relayed as this parser
 * framed it, under the service's Content-Length: were that length not the body's, the user's
 * kept-alive connection would carry bytes of the service's choosing as the answer to their next
 * request. So an answer passes only with at most one Content-Length of digits alone, or one
 * Transfer-Encoding that is `chunked`, never both (RFC 9112 6.1, 6.3).
 */
function framingAmbiguity(rawHeaders: string[]): string | undefined {
  const lengths: string[] = [];
  const codings: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === 'content-length') lengths.push(rawHeaders[i + 1]!);
    else if (name === 'transfer-encoding') codings.push(rawHeaders[i + 1]!);
  }
  if (lengths.length > 0 && codings.length > 0) return 'it has both Content-Length and Transfer-Encoding';
  if (lengths.length > 1) return `it has ${lengths.length} Content-Length headers`;
  if (codings.length > 1) return `it has ${codings.length} Transfer-Encoding headers`;
  if (lengths.length === 1 && !/^\d+$/.test(lengths[0]!.trim())) return `its Content-Length ${JSON.stringify(lengths[0])} is not a number`;
  if (codings.length === 1 && codings[0]!.trim().toLowerCase() !== 'chunked') {
    return `its Transfer-Encoding ${JSON.stringify(codings[0])} is not chunked, the only coding the proxy relays`;
  }
  return undefined;
}

/** How the body goes to the service: none; as it is, under its Content-Length; or re-chunked (it came chunked, and Node decoded it). */
function bodyFraming(request: ServiceRequest): 'none' | 'length' | 'chunked' {
  const body = request.body;
  if (!body || (body.headers['content-length'] === undefined && body.headers['transfer-encoding'] === undefined)) return 'none';
  return request.headers['content-length'] === undefined ? 'chunked' : 'length';
}

/** The request line and headers, and `transfer-encoding: chunked` when the body is sent in chunks. */
export function requestHead(request: ServiceRequest, framing: 'none' | 'length' | 'chunked' = 'none'): string {
  const lines = [`${request.method} ${request.path} HTTP/1.1`];
  for (const [name, value] of Object.entries(request.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) lines.push(`${name}: ${v}`);
  }
  if (framing === 'chunked') lines.push('transfer-encoding: chunked');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Streams the user's body on, as `framing` says. */
async function sendBody(body: IncomingMessage, stream: Duplex, framing: 'length' | 'chunked'): Promise<void> {
  const chunked = framing === 'chunked';
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (chunk.length === 0) continue;
    if (chunked) stream.write(`${chunk.length.toString(16)}\r\n`);
    const ok = stream.write(chunk);
    if (chunked) stream.write('\r\n');
    if (!ok) await drained(stream);
  }
  if (chunked) stream.write('0\r\n\r\n');
}

function drained(stream: Duplex): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the connection to the service closed'));
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}
