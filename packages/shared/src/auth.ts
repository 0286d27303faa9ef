import { z } from 'zod';
import type { EffectiveCapability } from './access.js';
import { SESSION_KINDS, type SessionKind } from './constants.js';
import { passwordSchema, type User } from './users.js';

export const loginSchema = z.strictObject({
  // Not the full username rule: a malformed name must fail exactly like a wrong password.
  username: z.string({ error: 'username must be a string' }).max(256, 'username is too long'),
  password: passwordSchema,
  /** `temporary` marks the token a client keeps for one-off `-u NAME` commands. */
  kind: z.enum(SESSION_KINDS, { error: 'kind must be "login" or "temporary"' }).default('login'),
  /** Browsers: keep the token in an HttpOnly cookie instead of returning it. */
  cookie: z.boolean({ error: 'cookie must be true or false' }).default(false),
});
export type LoginRequest = z.input<typeof loginSchema>;

export interface SessionInfo {
  kind: SessionKind;
  createdAt: string;
  expiresAt: string;
}

/** The cookie a browser session lives in (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'yard_session';

export interface LoginResponse {
  /** Absent when the session went into the browser's cookie. */
  token: string;
  user: User;
  session: SessionInfo;
}

/** What a request authenticated with: a session (CLI or browser cookie), or a personal API token. */
export interface CredentialInfo {
  via: 'session' | 'cookie' | 'api_token';
  kind: SessionKind | 'api_token';
  createdAt: string;
  /** Null for an API token made without --expires. */
  expiresAt: string | null;
  /** The API token's name. */
  name?: string;
}

export interface MeResponse {
  user: User;
  session: CredentialInfo;
  /** Every capability the caller holds right now, with the role and group it comes from. */
  capabilities: EffectiveCapability[];
}
