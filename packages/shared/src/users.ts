import { z } from 'zod';
import { groupPathSchema } from './group-path.js';
import {
  AUTH_BACKENDS,
  MAX_PASSWORD_LENGTH,
  MAX_UNIX_ID,
  UNIX_NAME_PATTERN,
  USERNAME_PATTERN,
  type AuthBackendName,
} from './constants.js';


export const usernameSchema = z
  .string({ error: 'username must be a string' })
  .trim()
  .toLowerCase()
  .regex(
    USERNAME_PATTERN,
    'username must be 1-64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit',
  );

export const passwordSchema = z
  .string({ error: 'password must be a string' })
  .max(MAX_PASSWORD_LENGTH, `password must be at most ${MAX_PASSWORD_LENGTH} characters`);

export const unixIdSchema = (what: string) =>
  z
    .number({ error: `${what} must be an integer between 0 and ${MAX_UNIX_ID}` })
    .int(`${what} must be an integer between 0 and ${MAX_UNIX_ID}`)
    .min(0, `${what} must be an integer between 0 and ${MAX_UNIX_ID}`)
    .max(MAX_UNIX_ID, `${what} must be an integer between 0 and ${MAX_UNIX_ID}`);

export const unixNameSchema = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(UNIX_NAME_PATTERN, `${what} must be a Unix name: letters, digits, "_", "." or "-", at most 32 characters`);

/** A Unix identity on the agents: who a task runs as. */
export const unixIdentitySchema = z.strictObject({
  uid: unixIdSchema('uid'),
  user: unixNameSchema('user'),
  gid: unixIdSchema('gid'),
  group: unixNameSchema('group'),
});
export type UnixIdentity = z.infer<typeof unixIdentitySchema>;

export interface User {
  id: number;
  username: string;
  /** Holds the `admin` role directly (not through a group): the 0.1 flag, kept for scripts. */
  admin: boolean;
  active: boolean;
  /** Roles given to this user directly, each with its scope (null: not scoped). */
  roles: Array<{ role: string; scope: string | null }>;
  /** Groups this user is a direct member of. */
  groups: string[];
  /** Where this user's password is checked. */
  auth: AuthBackendName;
  /** The Unix identity this user's tasks run as; null when unlinked (tasks use security.default_task). */
  agentUser: UnixIdentity | null;
  /** The group their tasks are created in when they name none (they must be a direct member); null: none. */
  defaultGroup: string | null;
  createdAt: string;
  updatedAt: string;
}

export const authBackendSchema = z.enum(AUTH_BACKENDS, {
  error: `auth must be one of ${AUTH_BACKENDS.map((name) => `"${name}"`).join(', ')}`,
});

export const createUserSchema = z
  .strictObject({
    username: usernameSchema,
    password: passwordSchema.default(''),
    admin: z.boolean({ error: 'admin must be true or false' }).default(false),
    active: z.boolean({ error: 'active must be true or false' }).default(true),
    auth: authBackendSchema.default('internal'),
  })
  .refine((body) => body.auth === 'internal' || body.password === '', {
    path: ['password'],
    message: 'only internal users have a password in Trainyard: leave it out for ldap, pam and file users',
  });
export type CreateUserRequest = z.input<typeof createUserSchema>;

export const patchUserSchema = z
  .strictObject({
    active: z.boolean({ error: 'active must be true or false' }).optional(),
    admin: z.boolean({ error: 'admin must be true or false' }).optional(),
    auth: authBackendSchema.optional(),
    /** A group path the user is a direct member of, or null for none. */
    defaultGroup: groupPathSchema.nullable().optional(),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'nothing to change: give active, admin, auth or defaultGroup');
export type PatchUserRequest = z.input<typeof patchUserSchema>;

export const setPasswordSchema = z.strictObject({ password: passwordSchema });
export type SetPasswordRequest = z.input<typeof setPasswordSchema>;

export const linkAgentUserSchema = unixIdentitySchema;
export type LinkAgentUserRequest = z.input<typeof linkAgentUserSchema>;

export const usernameParamSchema = z.strictObject({ username: usernameSchema });
