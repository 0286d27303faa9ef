import { z } from 'zod';
import { NAME_PATTERN, type Capability, type SessionKind } from './constants.js';
import { groupPathSchema } from './group-path.js';
import { poolNameSchema } from './tasks.js';
import { textSchema } from './text.js';
import { unixIdSchema, unixNameSchema, usernameSchema, type User } from './users.js';

export { groupPathSchema };

const nameSchema = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .trim()
    .toLowerCase()
    .regex(NAME_PATTERN, `${what} must be 1-64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit`);

export const roleNameSchema = nameSchema('role name');
export const tokenNameSchema = nameSchema('token name');
export const quotaNameSchema = nameSchema('quota name');

/** Unknown names get their own code, so that a script can tell a typo from a malformed body. */
export const capabilitySchema = z.string({ error: 'a capability must be a string' }).trim().toLowerCase();

const descriptionSchema = textSchema('description', 1024);

export const createGroupSchema = z.strictObject({ path: groupPathSchema });
export const renameGroupSchema = z.strictObject({ path: groupPathSchema });
export const groupPathParamSchema = z.strictObject({ path: groupPathSchema });
export const memberSchema = z.strictObject({ username: usernameSchema });

/** A block of uids `[start, start + size)`. */
export interface UidRange {
  start: number;
  size: number;
}

/**
 * `yard group set PATH --gid N --unix-group NAME --uid-range auto|START/SIZE --shared-dir on|off`:
 * only the fields given change; `null` clears a gid (with its name). A range is `auto` (the next
 * block of security.uid_ranges) or explicit; once set it never changes.
 */
export const groupUnixSchema = z
  .strictObject({
    gid: unixIdSchema('gid').refine((gid) => gid > 0, 'gid 0 is root\'s group: give a group its own gid').nullable().optional(),
    unixGroup: unixNameSchema('unix group').nullable().optional(),
    uidRange: z
      .union([
        z.literal('auto'),
        z.strictObject({
          start: unixIdSchema('uid range start').refine((n) => n > 0, 'a uid range cannot start at 0 (root)'),
          size: z.number({ error: 'uid range size must be a number' }).int().min(1, 'uid range size must be at least 1').max(1_000_000, 'uid range size must be at most 1000000'),
        }),
      ], { error: 'uid range must be "auto" or {start, size}' })
      .optional(),
    sharedDir: z.boolean({ error: 'sharedDir must be true or false' }).optional(),
  })
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'nothing to change: give gid, unixGroup, uidRange or sharedDir');
export type GroupUnixRequest = z.input<typeof groupUnixSchema>;
/** `yard group set PATH --default-pool NAME | --no-default-pool`: where its tasks go when they name no pool (null: the system's default_pool). */
export const groupPoolSchema = z.strictObject({ defaultPool: poolNameSchema.nullable() });
export type GroupPoolRequest = z.input<typeof groupPoolSchema>;
/** `yard group set PATH --fair-share-weight W`: its share against its siblings in hierarchical fair share (default 1). */
export const groupFairShareSchema = z.strictObject({
  weight: z.number({ error: 'weight must be a number' }).positive('weight must be more than 0').max(1_000_000, 'weight is absurd (at most 1000000)'),
});
export const memberParamsSchema = z.strictObject({ path: groupPathSchema, username: usernameSchema });

export const createRoleSchema = z.strictObject({
  name: roleNameSchema,
  description: descriptionSchema.default(''),
  capabilities: z.array(capabilitySchema, { error: 'capabilities must be a list of names' }).max(64).default([]),
});
export const patchRoleSchema = z
  .strictObject({
    description: descriptionSchema.optional(),
    capabilities: z.array(capabilitySchema, { error: 'capabilities must be a list of names' }).max(64).optional(),
  })
  .refine((b) => b.description !== undefined || b.capabilities !== undefined, 'nothing to change: give description or capabilities');
export const roleNameParamSchema = z.strictObject({ name: roleNameSchema });

/** Who a role goes to: exactly one of a user or a group, optionally held only for one group. */
export const assignmentSchema = z
  .strictObject({
    user: usernameSchema.optional(),
    group: groupPathSchema.optional(),
    scope: groupPathSchema.optional(),
  })
  .refine((b) => (b.user === undefined) !== (b.group === undefined), 'give exactly one of user or group');

export const createTokenSchema = z.strictObject({
  name: tokenNameSchema,
  /** A duration such as "90d"; without it the token lasts until revoked. */
  expires: z.string({ error: 'expires must be a duration such as "90d"' }).max(32).optional(),
});
export const tokenNameParamSchema = z.strictObject({ name: tokenNameSchema });
/** `?user=NAME`: someone else's sessions or tokens (change_config); your own without it. */
export const userQuerySchema = z.strictObject({ user: usernameSchema.optional() });

export const sessionIdParamSchema = z.strictObject({
  id: z.coerce.number({ error: 'session id must be a number' }).int().positive('session id must be positive').max(Number.MAX_SAFE_INTEGER),
});
export const logoutSchema = z.strictObject({
  /** End every session of the caller, not only this one. */
  all: z.boolean({ error: 'all must be true or false' }).default(false),
});

export const auditQuerySchema = z.strictObject({
  /** Entries made by this user, or about them. */
  user: usernameSchema.optional(),
  /** A duration back from now, such as "1d". */
  since: z.string({ error: 'since must be a duration such as "1d"' }).max(32).optional(),
  limit: z.coerce.number({ error: 'limit must be a number' }).int().min(1).max(500).default(50),
  after: z.string().max(200).optional(),
});

export interface Group {
  id: number;
  path: string;
  parent: string | null;
  memberCount: number;
  subgroupCount: number;
  createdAt: string;
  /** The Unix group its members' tasks get (supplementary, or primary in its uid range), and its name there. */
  gid: number | null;
  unixGroup: string | null;
  /** The uids of the group's tasks (a linked user's uid must lie in it; unlinked members get one of their own). */
  uidRange: UidRange | null;
  /** `<shared_root>/<path>` on the agents, mounted at `/shared/<path>` in members' tasks. */
  sharedDir: boolean;
  /** The pool tasks created in the group go to when they name none (null: the system's default_pool). */
  defaultPool: string | null;
  /** Its share against its sibling groups (and the parent's direct members) in hierarchical fair share; 1 by default. */
  fairShareWeight: number;
}

export interface GroupDetail extends Group {
  members: string[];
  /** The uids given to unlinked members from the group's range, each for good. */
  allocatedUids: Array<{ username: string; uid: number }>;
  subgroups: string[];
  /** Roles given to this group (its direct members hold them). */
  roles: RoleAssignment[];
  /** Assignments anywhere that are scoped to this group. */
  scopedHere: RoleAssignment[];
}

export interface Role {
  name: string;
  description: string;
  builtin: boolean;
  capabilities: Capability[];
  assignmentCount: number;
  createdAt: string;
}

export interface RoleAssignment {
  id: number;
  role: string;
  /** Exactly one of user and group is set. */
  user: string | null;
  group: string | null;
  /** The group whose members' tasks a scoped assignment covers; null: everyone's. */
  scope: string | null;
  createdAt: string;
}

export interface RoleDetail extends Role {
  assignments: RoleAssignment[];
}

/** One capability a user holds, and where it comes from. */
export interface EffectiveCapability {
  capability: Capability;
  role: string;
  /** `own` when the role was given to the user, else the group path it was given to. */
  via: string;
  scope: string | null;
}

/** `yard user show NAME`. */
export interface UserAccess {
  user: User;
  groups: string[];
  /** Roles given to the user and to the groups they are a direct member of. */
  roles: RoleAssignment[];
  capabilities: EffectiveCapability[];
}

export interface ApiTokenInfo {
  id: number;
  name: string;
  user: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

export interface CreatedApiToken extends ApiTokenInfo {
  /** Shown once; the master keeps only its hash. */
  token: string;
}

export interface SessionListItem {
  id: number;
  user: string;
  kind: SessionKind;
  client: string | null;
  address: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  /** The session this request came with. */
  current: boolean;
}

export interface AuditEntry {
  id: number;
  time: string;
  /** Who made the change; null for the master itself (first start, migrations). */
  actor: string | null;
  action: string;
  targetType: string;
  target: string;
  /** What changed; never a secret. */
  details: Record<string, unknown>;
}
