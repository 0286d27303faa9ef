import { API_PREFIX, type ErrorBody } from '@trainyard/shared';

export interface ApiResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * The body of an answer a test reads either way: `T` when the call succeeded, the master's error body
 * (`{error: {code, message, details}}`) when it refused; the test tells which by the status it asserts first.
 */
export type OrError<T> = T & Partial<ErrorBody>;

/** The details of a POLICY_DENIED refusal: the rule that refused and the policy layer it came from. */
export type PolicyDenial = { rule: string; layer: string };

/** Raw HTTP against the master, for what the CLI never sends (hostile input, forged tokens). */
export async function api<T = any>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string | Buffer<ArrayBuffer>; contentType?: string } = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | Buffer<ArrayBuffer> | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(base + API_PREFIX + path, { method, headers, body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

export async function loginToken(base: string, username: string, password = ''): Promise<string> {
  const result = await api<{ token: string }>(base, 'POST', '/auth/login', { body: { username, password } });
  if (result.status !== 200) throw new Error(`login as ${username} failed: ${JSON.stringify(result.body)}`);
  return result.body.token;
}

/**
 * A request to a task's service as a script would make it: `/proxy/<id>/...` on the master, which
 * sends it on to the services origin (a 307, the default); the redirect is followed here with the
 * same credentials, since fetch drops Authorization on a redirect to another origin.
 */
export async function proxyFetch(base: string, path: string, token: string): Promise<Response> {
  const headers = { authorization: `Bearer ${token}` };
  const first = await fetch(base + path, { headers, redirect: 'manual' });
  const location = first.headers.get('location');
  if (first.status !== 307 || !location) return first;
  await first.body?.cancel();
  return fetch(new URL(location, base), { headers });
}
