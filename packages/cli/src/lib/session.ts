import { ApiError, YardClient } from '@trainyard/shared/client';
import { DEFAULT_ACCOUNT, type SessionKind } from '@trainyard/shared/constants';
import type { CallArgs, EndpointName, EndpointResponse, LoginResponse } from '@trainyard/shared';
import { canGetPassword, loginPassword } from './prompt.js';
import type { Settings } from './settings.js';
import type { TokenSlot, TokenStore } from './token-store.js';

export class NotLoggedInError extends Error {
  override name = 'NotLoggedInError';
}

/** Who this one command acts as, in the design's auth order. */
export type Identity =
  | {
      user: string;
      /** `-u NAME`: a temporary session. `active`: the logged-in user. `default`: nobody logged in. */
      source: 'flag' | 'active' | 'default';
      slot: TokenSlot;
    }
  /** YARD_TOKEN: a personal API token, used as it is (never stored, never replaced by a login). */
  | { user: undefined; source: 'api_token'; token: string };

/**
 * The auth order: `-u NAME`, then YARD_TOKEN, then the logged-in user, then the default account.
 * `-u` wins over YARD_TOKEN because it is written on this very command line. `-u` naming the user
 * who is logged in is that login (as det's `-u`): no second session, no password asked.
 */
export function resolveIdentity(
  master: string,
  settings: Pick<Settings, 'activeUser'>,
  flagUser: string | undefined,
  apiToken: string | undefined = process.env.YARD_TOKEN,
): Identity {
  if (flagUser) {
    if (settings.activeUser(master) === flagUser) return { user: flagUser, source: 'active', slot: { master, user: flagUser, kind: 'login' } };
    return { user: flagUser, source: 'flag', slot: { master, user: flagUser, kind: 'temporary' } };
  }
  if (apiToken?.trim()) return { user: undefined, source: 'api_token', token: apiToken.trim() };
  const active = settings.activeUser(master);
  if (active) return { user: active, source: 'active', slot: { master, user: active, kind: 'login' } };
  return { user: DEFAULT_ACCOUNT, source: 'default', slot: { master, user: DEFAULT_ACCOUNT, kind: 'login' } };
}

/**
 * The master's API as the resolved identity. Tokens come from the store; `-u NAME` and the
 * default account log in again when their token is gone or dead, the active user must run
 * `yard user login` again (the CLI never keeps their password).
 */
export class Session {
  private client?: YardClient;
  private token?: string;

  constructor(
    readonly identity: Identity,
    private readonly store: TokenStore,
    private readonly anonymous: YardClient,
  ) {}

  /** Calls an endpoint as this identity; a kept token the master no longer knows is replaced once. */
  async call<K extends EndpointName>(name: K, ...args: CallArgs<K>): Promise<EndpointResponse<K>> {
    const { client, fromCache } = await this.connect(false);
    try {
      return await client.call(name, ...args);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || !fromCache || this.identity.source === 'api_token') throw error;
      await this.store.delete(this.identity.slot);
      const fresh = await this.connect(true);
      return fresh.client.call(name, ...args);
    }
  }

  /** The bearer token this identity calls with (logging in first if it must): for WebSockets (`yard shell open`). */
  async bearer(): Promise<string> {
    await this.connect(false);
    return this.token!;
  }

  private async connect(skipCache: boolean): Promise<{ client: YardClient; fromCache: boolean }> {
    if (this.client && !skipCache) return { client: this.client, fromCache: true };
    const { identity } = this;
    if (identity.source === 'api_token') {
      // A refused token is reported as the master said it (revoked, expired, access_api gone).
      this.client = this.anonymous.withToken(identity.token);
      this.token = identity.token;
      return { client: this.client, fromCache: false };
    }
    if (!skipCache) {
      const cached = await this.store.get(identity.slot);
      if (cached) {
        this.client = this.anonymous.withToken(cached);
        this.token = cached;
        return { client: this.client, fromCache: true };
      }
    }
    if (identity.source === 'active') {
      const ended = `your session as '${identity.user}' has ended (logged out, expired, password changed or account deactivated)`;
      // As det does: a person at a terminal is asked for the password again, the name kept; a script fails.
      if (!canGetPassword()) {
        throw new NotLoggedInError(`${ended}: log in again with \`yard user login ${identity.user}\`, or \`yard user logout\` to act as the default account`);
      }
      if (process.env.YARD_PASSWORD === undefined) process.stderr.write(`${ended[0]!.toUpperCase()}${ended.slice(1)}: log in again.\n`);
    }
    const token = await this.login(identity);
    this.client = this.anonymous.withToken(token);
    this.token = token;
    return { client: this.client, fromCache: false };
  }

  private async login(identity: Extract<Identity, { slot: TokenSlot }>): Promise<string> {
    const isDefault = identity.source === 'default';
    const password = isDefault ? '' : await loginPassword(identity.user);
    try {
      const response = await loginRequest(this.anonymous, identity.user, password, identity.slot.kind);
      await this.store.set(identity.slot, response.token);
      return response.token;
    } catch (error) {
      if (isDefault && error instanceof ApiError && (error.code === 'INVALID_CREDENTIALS' || error.code === 'USER_INACTIVE')) {
        throw new NotLoggedInError(
          `nobody is logged in and the default account '${identity.user}' is not available (deactivated or password-protected): ` +
            'log in with `yard user login NAME`',
        );
      }
      throw error;
    }
  }
}

export function loginRequest(
  client: YardClient,
  username: string,
  password: string,
  kind: SessionKind,
): Promise<LoginResponse> {
  return client.call('auth.login', { body: { username, password, kind } });
}
