import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed when the response is JSON, else the text. */
  body: any;
}

/**
 * One request with headers fetch will not send as given (Host, X-Forwarded-For...), over http or
 * https (`ca` to trust a test certificate). The body is JSON-encoded unless it is a string.
 */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown; ca?: string | Buffer; localAddress?: string } = {},
): Promise<RawResponse> {
  const target = new URL(url);
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers };
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method: options.method ?? 'GET',
        headers,
        agent: false,
        ...(options.ca ? { ca: options.ca } : {}),
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: parseBody(res.headers['content-type'], text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes `text` as it is to the server's socket and reads the answer until the server closes. */
export function rawExchange(url: string, text: string | Buffer): Promise<RawResponse & { raw: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname);
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (raw += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: http.IncomingHttpHeaders = {};
      for (const line of lines) {
        const at = line.indexOf(':');
        headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
      }
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
      resolve({ status, headers, body: parseBody(headers['content-type'] as string | undefined, rest.join('\r\n\r\n')), raw });
    });
    // Written, not ended: Node's server aborts a request whose client half-closes before it is
    // answered, and on PostgreSQL the answer comes a few ticks later. Every text here asks the
    // server to close (Connection: close, or an error that closes).
    socket.write(text);
  });
}

function parseBody(contentType: string | undefined, text: string): unknown {
  if (!contentType?.includes('application/json') || text === '') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
