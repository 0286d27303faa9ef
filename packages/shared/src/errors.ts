/**
 * Every error the master can answer with, and the HTTP status it travels with.
 * The master throws these codes, the CLI and agent read them: one table, one truth.
 */
export const ERROR_STATUS = {
  INVALID_INPUT: 400,
  INVALID_JSON: 400,
  INVALID_TASK_CONFIG: 400,
  PASSWORD_POLICY: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  USER_INACTIVE: 403,
  NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  AGENT_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  USER_EXISTS: 409,
  /** A password change for a user whose password lives in LDAP, PAM or a password file. */
  PASSWORD_MANAGED_ELSEWHERE: 409,
  ILLEGAL_TRANSITION: 409,
  LEASE_INVALID: 409,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  /** The LDAP directory, PAM or password file that checks this user's password cannot answer. */
  AUTH_BACKEND_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The body of every error response: `{"error": {"code": ..., "message": ...}}`. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** Set on INTERNAL errors: the id to find in the master's log. */
    requestId?: string;
    /** Field-level problems for INVALID_INPUT, e.g. `{path: "uid", message: "..."}`. */
    details?: Array<{ path: string; message: string }>;
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
