import { z } from 'zod';
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

export interface MeResponse {
  user: User;
  session: SessionInfo;
}
