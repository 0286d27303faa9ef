/**
 * The one client of the master's API, for the CLI, the web UI and the agent: give it an endpoint's
 * name (endpoints.ts) and it returns that endpoint's response type. It never loads zod, so the CLI
 * starts fast. Failures are one of two classes: `ApiError` when the master answered with its error
 * body, `TransportError` when there was no usable answer (each caller words that for its people).
 */
import { API_PREFIX, API_VERSION_HEADER, VERSION_HEADER } from './api.js';
import { ENDPOINTS, endpointPath, type CallArgs, type EndpointName, type EndpointResponse, type HttpMethod } from './endpoints.js';
import { isErrorBody, type ErrorBody, type ErrorCode } from './errors.js';
import { MasterSet } from './master-set.js';
import type { MasterVersion } from './version.js';

export { MasterSet, parseMasterUrls } from './master-set.js';

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
 * master's error body, e.g. from a proxy), `no_leader` (several masters were given and none led: each
 * was unreachable or stood by; `baseUrl` lists them and `cause` says what each did).
 */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly kind: 'unreachable' | 'timeout' | 'not_json' | 'http' | 'no_leader',
    /** The HTTP status; for `no_leader`, 503 when a standby answered (a failover is under way), 0 when no master could be reached. */
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
            : kind === 'no_leader'
              ? `no master leads at ${baseUrl} (${String(cause)})`
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
  /** `http://host:8080`; empty for the page's own origin (the web UI). Ignored when `masters` is given. */
  baseUrl: string;
  /**
   * Several masters, one leading (`--master a,b`): each call goes to the current one, follows a
   * standby's NOT_LEADER to the leader it names, and tries the others when one cannot be reached.
   */
  masters?: MasterSet;
  /**
   * With several masters: how long a call may wait for one of them to lead (a failover) before it
   * fails, trying each in turn with a growing pause (0 or unset: one pass over them, then the failure;
   * the agent's own loop retries).
   */
  leaderWaitMs?: number;
  /**
   * Every call may be sent twice (the agent's are made so: leases, offsets, idempotent reports): one
   * that went unanswered (the master died or froze under it) is sent on to the next master like a
   * read. Otherwise only reads are, and writes only when the connection was refused.
   */
  resendable?: boolean;
  /** Told, before each pause, that no master leads yet and what each did (the CLI says it once on stderr). */
  onWaitingForLeader?: (what: string) => void;
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
  /** Where calls go: the masters given, and the one that leads (shared with `withToken` copies). */
  readonly masters: MasterSet;

  constructor(readonly options: ClientOptions) {
    this.masters = options.masters ?? new MasterSet([options.baseUrl]);
  }

  withToken(token: string): YardClient {
    return new YardClient({ ...this.options, masters: this.masters, token });
  }

  /**
   * Calls endpoint `name`; resolves to its response (undefined for 204), or throws ApiError /
   * TransportError. A standby's NOT_LEADER is followed to the leader it names; a master that cannot
   * be reached is passed over for the next one given, when the request cannot have been applied
   * (the connection was refused) or is a read. With one URL and no standby met, a failure is
   * thrown as it came.
   */
  async call<K extends EndpointName>(name: K, ...[input, options = {}]: CallArgs<K>): Promise<EndpointResponse<K>> {
    const definition: { method: HttpMethod; root?: boolean } = ENDPOINTS[name];
    const masters = this.masters;
    const deadline = Date.now() + (this.options.leaderWaitMs ?? 0);
    let pauseMs = FIRST_PAUSE_MS;
    let standbyMet = false;
    for (;;) {
      // One pass: the current master first (or the leader a standby named), then the others in order.
      const queue = masters.rotation();
      const failures = new Map<string, { reason: string; error: unknown }>();
      while (queue.length > 0) {
        const url = queue.shift()!;
        if (failures.has(url)) continue;
        try {
          const answer = await this.callAt(url, name, definition, input ?? {}, options);
          masters.follow(url);
          return answer;
        } catch (error) {
          const failure = failoverReason(error, this.options.resendable ? 'GET' : definition.method);
          if (!failure) throw error;
          failures.set(url, { reason: failure.reason, error });
          standbyMet ||= failure.standby;
          // A standby that names a leader sends us there next.
          if (failure.leader && !failures.has(failure.leader)) queue.unshift(failure.leader);
        }
      }
      // Every master failed in this pass. One master that failed as it always did: its error, as before.
      const only = failures.size === 1 ? [...failures.values()][0] : undefined;
      const waiting = masters.urls.length > 1 || standbyMet;
      if (!waiting && only) throw only.error;
      const summary = [...failures].map(([url, f]) => `${url}: ${f.reason}`).join('; ');
      if (Date.now() + pauseMs > deadline) throw new TransportError('no_leader', standbyMet ? 503 : 0, [...failures.keys()].join(', '), summary);
      this.options.onWaitingForLeader?.(summary);
      await sleep(pauseMs);
      pauseMs = Math.min(pauseMs * 2, MAX_PAUSE_MS);
    }
  }

  /** One request to one master. */
  private async callAt(
    baseUrl: string,
    name: EndpointName,
    definition: { method: HttpMethod; root?: boolean },
    parts: { params?: Record<string, string | number>; query?: unknown; body?: unknown },
    options: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<any> {
    const { token, headers, credentials } = this.options;
    const body = parts.body;
    const path = `${definition.root ? '' : API_PREFIX}${endpointPath(name, parts as never)}`;
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
    return json;
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

const FIRST_PAUSE_MS = 250;
const MAX_PAUSE_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Network errors that say the request never reached a master: safe to send elsewhere, whatever it does. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Whether a failed call may go on to another master, and why it failed there: a standby (with the
 * leader it names, if any), a master never reached, or, for a read, one that went away or kept quiet
 * (a write that may have been applied is never sent twice). Undefined: the failure is the answer.
 */
function failoverReason(error: unknown, method: HttpMethod): { reason: string; standby: boolean; leader?: string } | undefined {
  if (error instanceof ApiError) {
    if (error.code !== 'NOT_LEADER') return undefined;
    const named = (error.details as { leader?: unknown } | undefined)?.leader;
    const leader = typeof named === 'string' && named !== '' ? named : undefined;
    return { reason: leader ? `standing by (the leader is ${leader})` : 'standing by, and no master leads yet', standby: true, ...(leader ? { leader } : {}) };
  }
  if (!(error instanceof TransportError)) return undefined;
  const read = method === 'GET';
  if (error.kind === 'unreachable' && (NEVER_SENT.has(describeCause(error.cause)) || read)) return { reason: describeCause(error.cause), standby: false };
  if (read && error.kind === 'timeout') return { reason: `no answer within ${formatSeconds(error.timeoutMs ?? 0)}`, standby: false };
  // A proxy in front of a master that is down (502, 503, 504 without the master's body).
  if (read && error.kind === 'http' && error.status >= 502 && error.status <= 504) return { reason: `HTTP ${error.status}`, standby: false };
  return undefined;
}
