/**
 * The one client of the master's API, for the CLI, the web UI and the agent: give it an endpoint's
 * name (endpoints.ts) and it returns that endpoint's response type. It never loads zod, so the CLI
 * starts fast. Failures are one of two classes: `ApiError` when the master answered with its error
 * body, `TransportError` when there was no usable answer (each caller words that for its people).
 */
import { API_PREFIX, API_VERSION_HEADER, VERSION_HEADER } from './api.js';
import { ENDPOINTS, endpointPath, type CallArgs, type EndpointName, type EndpointResponse, type HttpMethod } from './endpoints.js';
import { isErrorBody, type ErrorBody, type ErrorCode } from './errors.js';
import type { MasterVersion } from './version.js';

/** How long a request may take before the client gives up, unless its caller says otherwise (the CLI's --request-timeout). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

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
 * No usable answer: `unreachable` (the request failed or was aborted: `cause` says how), `timeout`
 * (no whole answer within `timeoutMs`: the master accepted the connection and kept quiet, or the
 * network dropped it), `not_json` (an answer that is not JSON), `http` (an error status without the
 * master's error body, e.g. from a proxy).
 */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly kind: 'unreachable' | 'timeout' | 'not_json' | 'http',
    readonly status: number,
    readonly baseUrl: string,
    override readonly cause?: unknown,
    /** For `timeout`: how long the client waited. */
    readonly timeoutMs?: number,
  ) {
    super(
      kind === 'unreachable'
        ? `cannot reach the master at ${baseUrl}: ${describeCause(cause)}`
        : kind === 'timeout'
          ? `the master at ${baseUrl} did not answer within ${formatSeconds(timeoutMs ?? 0)}`
          : kind === 'not_json'
            ? `the master at ${baseUrl} sent HTTP ${status} that is not JSON`
            : `the master at ${baseUrl} answered HTTP ${status}`,
    );
  }
}

/** `30 s`, `1.5 s`. */
export const formatSeconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

/** What the client saw of one answer: for callers that name the master's version when an answer puzzles them. */
export interface AnswerInfo {
  endpoint: EndpointName;
  method: HttpMethod;
  /** The path asked for, without the query. */
  path: string;
  status: number;
  /** From the master's version headers; undefined when it sent none (a master from before them, or not a master). */
  master?: MasterVersion;
}

/** The network-level reason for a failed request: `ECONNREFUSED`, or the error's message. */
export function describeCause(cause: unknown): string {
  const inner = (cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return inner?.code ?? inner?.message ?? (cause instanceof Error ? cause.message : String(cause));
}

/** What the client uses of `fetch`: a caller may bring its own (the CLI's over node:http, which starts faster than Node's fetch). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | undefined; credentials?: 'include' | 'omit' | 'same-origin'; signal?: AbortSignal },
) => Promise<FetchedResponse>;

export interface FetchedResponse {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
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
  /**
   * Give up on a request after this long (0 or undefined: never). A long poll (a `wait` in its
   * query, seconds) gets its wait on top: it is held open on purpose, for a bounded time.
   */
  requestTimeoutMs?: number;
  /** Told of every answer that came (any status), before it is parsed. */
  onAnswer?: (answer: AnswerInfo) => void;
  /** The HTTP client (default: the global fetch). It rejects with the signal's reason when aborted. */
  fetch?: FetchLike;
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
    const path = `${definition.root ? '' : API_PREFIX}${endpointPath(name, parts)}`;
    const url = `${baseUrl}${path}`;
    const timeoutMs = options.timeoutMs ?? this.defaultTimeout(parts.query);
    const signals = [options.signal, timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs)].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const timedOut = (error: unknown) => timeoutMs !== undefined && (error as { name?: string } | undefined)?.name === 'TimeoutError';
    let response: FetchedResponse;
    try {
      response = await (this.options.fetch ?? fetch)(url, {
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
      if (timedOut(error)) throw new TransportError('timeout', 0, baseUrl, error, timeoutMs);
      throw new TransportError('unreachable', 0, baseUrl, error);
    }
    this.options.onAnswer?.({ endpoint: name, method: definition.method, path: path.split('?')[0]!, status: response.status, ...masterVersionOf(response.headers) });
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      // The head came and the body did not (in time): as good as no answer.
      if (timedOut(error)) throw new TransportError('timeout', response.status, baseUrl, error, timeoutMs);
      throw new TransportError('unreachable', response.status, baseUrl, error);
    }
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

  /** The client's request timeout, plus a long poll's own `wait` (seconds) when the query has one. */
  private defaultTimeout(query: unknown): number | undefined {
    const base = this.options.requestTimeoutMs;
    if (!base) return undefined;
    const wait = typeof query === 'object' && query !== null ? Number((query as { wait?: unknown }).wait ?? 0) : 0;
    return base + (Number.isFinite(wait) && wait > 0 ? wait * 1000 : 0);
  }
}

/** The master's release and API version from an answer's headers, when it sent them. */
function masterVersionOf(headers: FetchedResponse['headers']): { master?: MasterVersion } {
  const version = headers.get(VERSION_HEADER);
  const api = Number(headers.get(API_VERSION_HEADER));
  return version && Number.isInteger(api) && api > 0 ? { master: { version, apiVersion: api } } : {};
}
