/** Paths clients and scripts rely on. */
export const API_PREFIX = '/api/v1';
export const HEALTH_PATH = '/healthz';
export const REQUEST_ID_HEADER = 'x-request-id';
/** Readiness: 200 when the master can use its database, 503 `NOT_READY` when it cannot. */
export const READY_PATH = '/readyz';
/** Prometheus metrics (text format), beside the health checks. */
export const METRICS_PATH = '/metrics';
/**
 * The API's own version: the `v1` of API_PREFIX. It changes only when an answer changes in a way
 * an older client would misread; the master says it (and its release) at `GET /api/v1/version`
 * and in the headers below on every answer, so a client can tell at no extra cost.
 */
export const API_VERSION = 1;
export const VERSION_HEADER = 'x-trainyard-version';
export const API_VERSION_HEADER = 'x-trainyard-api-version';
