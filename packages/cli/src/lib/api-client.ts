import { API_PREFIX, isErrorBody, type ErrorCode } from '@trainyard/shared/constants';

/** An error the master answered with, in its documented shape. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'UNREACHABLE' | 'BAD_RESPONSE',
    message: string,
    /** For UNREACHABLE: the short reason, such as ECONNREFUSED. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** Node's codes for a TLS certificate it does not accept. */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Why the master could not be reached, and what to do about it. */
function unreachable(master: string, error: unknown): ApiError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  if (UNTRUSTED_CERTIFICATE.has(reason)) {
    const what = reason === 'ERR_TLS_CERT_ALTNAME_INVALID' ? 'is not for this host name' : 'is not trusted here';
    return new ApiError(
      0,
      'UNREACHABLE',
      `the certificate of the master at ${master} ${what} (${reason}): for a self-signed or private CA's certificate, ` +
        'point NODE_EXTRA_CA_CERTS at its PEM file',
      reason,
    );
  }
  return new ApiError(
    0,
    'UNREACHABLE',
    `cannot reach the master at ${master} (${reason}): is it running? Point -m/--master or YARD_MASTER at it`,
    reason,
  );
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A thin typed wrapper over fetch for the master's /api/v1. */
export class ApiClient {
  constructor(
    readonly master: string,
    private token?: string,
  ) {}

  withToken(token: string): ApiClient {
    return new ApiClient(this.master, token);
  }

  async request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(new URL(API_PREFIX + path, this.master), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw unreachable(this.master, error);
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError(response.status, 'BAD_RESPONSE', `the master at ${this.master} sent a response that is not JSON (HTTP ${response.status})`);
    }
    if (!response.ok) {
      if (isErrorBody(json)) throw new ApiError(response.status, json.error.code, json.error.message);
      throw new ApiError(response.status, 'BAD_RESPONSE', `the master answered HTTP ${response.status}`);
    }
    return json as T;
  }

  get<T>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body: unknown = {}) {
    return this.request<T>('POST', path, body);
  }
  put<T>(path: string, body: unknown) {
    return this.request<T>('PUT', path, body);
  }
  patch<T>(path: string, body: unknown) {
    return this.request<T>('PATCH', path, body);
  }
  delete<T>(path: string) {
    return this.request<T>('DELETE', path);
  }
}
