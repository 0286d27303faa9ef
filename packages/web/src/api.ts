import { ApiError, TransportError, YardClient } from '@trainyard/shared/client';
import type { CallArgs, EndpointName, EndpointResponse } from '@trainyard/shared';
import { sameOriginPath } from '@trainyard/shared/constants';

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

/** Only paths on this site, as the browser resolves them (see sameOriginPath); anything else: home. */
export function safeRedirect(target: string | null): string {
  return sameOriginPath(target, window.location.origin) ?? '/';
}
