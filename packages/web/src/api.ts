import type { ErrorCode } from '@trainyard/shared/constants';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'UNREACHABLE',
    message: string,
  ) {
    super(message);
  }
}

/** The master's API with the browser's session cookie; errors keep the API's code and message. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'UNREACHABLE', 'The master cannot be reached. Is it running?');
  }
  if (response.status === 204) return undefined as T;
  const json = (await response.json().catch(() => undefined)) as { error?: { code: ErrorCode; message: string } } | undefined;
  if (!response.ok) {
    throw new ApiError(response.status, json?.error?.code ?? 'INTERNAL', json?.error?.message ?? `The master answered HTTP ${response.status}.`);
  }
  return json as T;
}

/** Only paths on this site: `/x` yes; `//evil.example`, `/\evil`, `https://...` no. */
export function safeRedirect(target: string | null): string {
  if (!target || !target.startsWith('/') || target.startsWith('//') || target.startsWith('/\\')) return '/';
  try {
    const url = new URL(target, window.location.origin);
    return url.origin === window.location.origin ? url.pathname + url.search + url.hash : '/';
  } catch {
    return '/';
  }
}
