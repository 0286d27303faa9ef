/** Paths clients and scripts rely on. */
export const API_PREFIX = '/api/v1';
export const HEALTH_PATH = '/healthz';
export const REQUEST_ID_HEADER = 'x-request-id';
/** Readiness: 200 when the master can use its database, 503 `NOT_READY` when it cannot. */
export const READY_PATH = '/readyz';
