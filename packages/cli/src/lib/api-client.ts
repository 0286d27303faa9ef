import { API_PREFIX, isErrorBody, type ErrorCode } from '@trainyard/shared/constants';

/** An error the master answered with, in its documented shape. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'UNREACHABLE' | 'BAD_RESPONSE',
    message: string,
  ) {
    super(message);
  }
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A thin typed wrapper over fetch for the master's /api/v1. */
export class ApiClient {
  constructor(
    readonly master: string,
    private token?: string,
    /** Sent as User-Agent: `yard user sessions` shows it as the session's client. */
    private readonly userAgent?: string,
  ) {}

  withToken(token: string): ApiClient {
    return new ApiClient(this.master, token, this.userAgent);
  }

  async request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.userAgent) headers['user-agent'] = this.userAgent;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(new URL(API_PREFIX + path, this.master), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(
        0,
        'UNREACHABLE',
        `cannot reach the master at ${this.master} (${cause?.code ?? cause?.message ?? (error as Error).message}): ` +
          'is it running? Point -m/--master or YARD_MASTER at it',
      );
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
