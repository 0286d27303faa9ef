/**
 * The one client of the master's API, for the CLI, the web UI and the agent: give it an endpoint's
 * name (endpoints.ts) and it returns that endpoint's response type. It never loads zod, so the CLI
 * starts fast. Failures are one of two classes: `ApiError` when the master answered with its error
 * body, `TransportError` when there was no usable answer (each caller words that for its people).
 */
import { API_PREFIX } from './api.js';
import { ENDPOINTS, endpointPath, type CallArgs, type EndpointName, type EndpointResponse, type HttpMethod } from './endpoints.js';
import { isErrorBody, type ErrorBody, type ErrorCode } from './errors.js';

/** The master answered with `{"error": {...}}`. */
/** For clients that build a URL themselves (WebSockets): the API's prefix, a call's path, the error body's shape. */
export { API_PREFIX, endpointPath, isErrorBody };

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorBody['error']['details'],
  ) {
    super(message);
  }
}

/**
 * No usable answer: `unreachable` (the request failed, timed out or was aborted: `cause` says how),
 * `not_json` (an answer that is not JSON), `http` (an error status without the master's error body,
 * e.g. from a proxy).
 */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly kind: 'unreachable' | 'not_json' | 'http',
    readonly status: number,
    readonly baseUrl: string,
    override readonly cause?: unknown,
  ) {
    super(
      kind === 'unreachable'
        ? `cannot reach the master at ${baseUrl}: ${describeCause(cause)}`
        : kind === 'not_json'
          ? `the master at ${baseUrl} sent HTTP ${status} that is not JSON`
          : `the master at ${baseUrl} answered HTTP ${status}`,
    );
  }
}

/** The network-level reason for a failed request: `ECONNREFUSED`, or the error's message. */
export function describeCause(cause: unknown): string {
  const inner = (cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return inner?.code ?? inner?.message ?? (cause instanceof Error ? cause.message : String(cause));
}

export interface ClientOptions {
  /** `http://host:8080`; empty for the page's own origin (the web UI). */
  baseUrl: string;
  /** A session, API or agent token, sent as `Authorization: Bearer`. */
  token?: string;
  /** Extra headers on every request (the CLI's User-Agent). */
  headers?: Record<string, string>;
  /** The web UI sends its session cookie. */
  credentials?: 'include' | 'omit' | 'same-origin';
}

export class YardClient {
  constructor(readonly options: ClientOptions) {}

  withToken(token: string): YardClient {
    return new YardClient({ ...this.options, token });
  }

  /** Calls endpoint `name`; resolves to its response (undefined for 204), or throws ApiError / TransportError. */
  async call<K extends EndpointName>(name: K, ...[input, options = {}]: CallArgs<K>): Promise<EndpointResponse<K>> {
    const definition: { method: HttpMethod; root?: boolean } = ENDPOINTS[name];
    const { baseUrl, token, headers, credentials } = this.options;
    const parts: { params?: Record<string, string | number>; query?: unknown; body?: unknown } = input ?? {};
    const body = parts.body;
    const url = `${baseUrl}${definition.root ? '' : API_PREFIX}${endpointPath(name, parts)}`;
    const signals = [options.signal, options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs)].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    let response: Response;
    try {
      response = await fetch(url, {
        method: definition.method,
        headers: {
          accept: 'application/json',
          ...headers,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        ...(credentials ? { credentials } : {}),
        ...(signals.length > 0 ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
      });
    } catch (error) {
      throw new TransportError('unreachable', 0, baseUrl, error);
    }
    const text = await response.text().catch(() => '');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new TransportError('not_json', response.status, baseUrl);
    }
    if (!response.ok) {
      if (isErrorBody(json)) throw new ApiError(response.status, json.error.code, json.error.message, json.error.details);
      throw new TransportError('http', response.status, baseUrl);
    }
    // The master's answer for this endpoint: its type is the contract in endpoints.ts.
    return json as EndpointResponse<K>;
  }
}
