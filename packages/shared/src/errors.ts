/**
 * Every error the master can answer with, and the HTTP status it travels with.
 * The master throws these codes, the CLI and agent read them: one table, one truth.
 */
export const ERROR_STATUS = {
  INVALID_INPUT: 400,
  INVALID_JSON: 400,
  INVALID_TASK_CONFIG: 400,
  /** master.yaml (its `policy` section, on a reload) is not valid: the message names the key. */
  INVALID_CONFIG: 400,
  PASSWORD_POLICY: 400,
  /** A capability name that is not one of CAPABILITIES. */
  UNKNOWN_CAPABILITY: 400,
  /** A scoped assignment of a role that holds capabilities which cannot be scoped. */
  SCOPE_NOT_ALLOWED: 400,
  /** A role given to group G and scoped to G itself. */
  SELF_SCOPE: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  POLICY_DENIED: 403,
  USER_INACTIVE: 403,
  NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  AGENT_NOT_FOUND: 404,
  GROUP_NOT_FOUND: 404,
  ROLE_NOT_FOUND: 404,
  QUOTA_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  ASSIGNMENT_NOT_FOUND: 404,
  MEMBER_NOT_FOUND: 404,
  /** A pool that master.yaml's `pools` does not name (a task's `--pool`, a group's default, an agent's `--pool`). */
  POOL_NOT_FOUND: 404,
  /** An image no agent of the pool has, or an image operation the master does not know (any more). */
  IMAGE_NOT_FOUND: 404,
  OPERATION_NOT_FOUND: 404,
  /** A group with no guarantee in the pool named (`yard quota guarantee delete`). */
  GUARANTEE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  USER_EXISTS: 409,
  GROUP_EXISTS: 409,
  ROLE_EXISTS: 409,
  QUOTA_EXISTS: 409,
  /** Over a quota's max_submitted, or over a deny_on_limit quota: the message names the quota, used and limit. */
  QUOTA_EXCEEDED: 409,
  TOKEN_EXISTS: 409,
  ASSIGNMENT_EXISTS: 409,
  MEMBER_EXISTS: 409,
  /** Renaming a group into its own subtree. */
  GROUP_CYCLE: 409,
  /** Deleting a group that still has subgroups. */
  GROUP_HAS_SUBGROUPS: 409,
  /** Editing or deleting a built-in role, or deleting the default role. */
  ROLE_PROTECTED: 409,
  /** A change that would leave no active user holding the admin role. */
  LAST_ADMIN: 409,
  /** Deleting a task that has not ended. */
  TASK_NOT_ENDED: 409,
  /** A password change for a user whose password lives in LDAP, PAM or a password file. */
  PASSWORD_MANAGED_ELSEWHERE: 409,
  ILLEGAL_TRANSITION: 409,
  LEASE_INVALID: 409,
  /** A gid or Unix group name another group already has, or a uid a group's range gave another member. */
  UNIX_ID_TAKEN: 409,
  /** A uid range that overlaps one handed out before (to any group, deleted ones included), or a change to a set range. */
  UID_RANGE_CONFLICT: 409,
  CONFLICT: 409,
  /** Removing an image that an unfinished task runs (or waits to run) in. */
  IMAGE_IN_USE: 409,
  /** An image pull, load or removal that no agent of the pool can take (none alive; process executors, which hold no images). */
  NO_IMAGE_AGENTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** The Host header names neither a configured `http.public_url` nor a loopback name or an IP address. */
  HOST_NOT_ALLOWED: 421,
  TOO_MANY_REQUESTS: 429,
  HEADER_TOO_LARGE: 431,
  /** The task's service is no longer there: the task ended. */
  GONE: 410,
  INTERNAL: 500,
  /** The task's agent did not dial back, or its service refused the connection. */
  BAD_GATEWAY: 502,
  /** `/readyz`: the master runs but cannot use its database. */
  NOT_READY: 503,
  /** The LDAP directory, PAM or password file that checks this user's password cannot answer. */
  AUTH_BACKEND_UNAVAILABLE: 503,
  /**
   * Several masters (`ha`): this one stands by; `details.leader` is the leader's URL (null while none
   * leads, during a failover). Clients go there (the CLI and agents do it themselves).
   */
  NOT_LEADER: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export type ErrorDetails = Array<{ path: string; message: string }> | Record<string, unknown>;

/** The body of every error response: `{"error": {"code": ..., "message": ...}}`. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** Set on INTERNAL errors: the id to find in the master's log. */
    requestId?: string;
    /**
     * Field-level problems for INVALID_INPUT, e.g. `[{path: "uid", message: "..."}]`; for
     * POLICY_DENIED, the rule and the policy layer that refused: `{rule, layer}`.
     */
    details?: ErrorDetails;
  };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

export function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    isErrorCode((error as { code?: unknown }).code) &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}
