import { ApiError, TransportError, YardClient } from '@trainyard/shared/client';
import type { CallArgs, EndpointName, EndpointResponse } from '@trainyard/shared';

export { ApiError };

/** The master's API with the browser's session cookie, through the one shared client. */
const client = new YardClient({ baseUrl: '', credentials: 'same-origin' });

/** Calls an endpoint; the master's errors keep their code and message, a missing answer becomes one sentence. */
export async function api<K extends EndpointName>(name: K, ...args: CallArgs<K>): Promise<EndpointResponse<K>> {
  try {
    return await client.call(name, ...args);
  } catch (error) {
    if (error instanceof TransportError) {
      if (error.kind === 'unreachable' || error.kind === 'timeout') throw new Error('The master cannot be reached. Is it running?');
      throw new Error(`The master answered HTTP ${error.status}.`);
    }
    throw error;
  }
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
