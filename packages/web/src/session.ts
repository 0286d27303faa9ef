import type { MeResponse } from '@trainyard/shared';
import { DEFAULT_ACCOUNT } from '@trainyard/shared/constants';
import { api, ApiError } from './api.js';

/**
 * Who the browser acts as: its cookie session, else (as the CLI does) the default account
 * `yard` while it is active. Undefined means: send the person to the login page.
 */
export async function currentSession(allowDefault: boolean): Promise<MeResponse | undefined> {
  try {
    return await api('me');
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
  }
  if (!allowDefault) return undefined;
  try {
    await api('auth.login', { body: { username: DEFAULT_ACCOUNT, password: '', cookie: true } });
    return await api('me');
  } catch (error) {
    // Refused (wrong password, or the default account deactivated: USER_INACTIVE) or throttled: log in.
    if (error instanceof ApiError && (error.status === 401 || error.status === 429 || error.code === 'USER_INACTIVE')) return undefined;
    throw error;
  }
}

export async function signIn(username: string, password: string): Promise<void> {
  await api('auth.login', { body: { username, password, cookie: true } });
}

export async function signOut(): Promise<void> {
  await api('auth.logout', { body: {} }).catch(() => undefined);
  // Signing out means "not as anyone": do not slip back into the default account on the next page.
  sessionStorage.setItem('yard:signed-out', '1');
}
