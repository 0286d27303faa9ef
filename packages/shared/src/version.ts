/** Versions of the master and its clients, and when a difference matters. No zod: clients load it. */

/** `GET /api/v1/version`: the master's release and the API version it speaks. */
export interface MasterVersion {
  /** The master's release (its package version), e.g. `0.1.0`. */
  version: string;
  /** API_VERSION of the master: answers' shapes only change with it. */
  apiVersion: number;
}

/**
 * Whether a client and a master are far enough apart to misread each other: another API version,
 * or another major release (for 0.x releases the minor is the major, as semver's caret does).
 */
export function versionsConflict(client: MasterVersion, master: MasterVersion): boolean {
  if (client.apiVersion !== master.apiVersion) return true;
  const [a, b] = [client.version, master.version].map((v) => /^(\d+)\.(\d+)/.exec(v));
  if (!a || !b) return client.version !== master.version;
  return a[1] !== b[1] || (a[1] === '0' && a[2] !== b[2]);
}

/** `0.1.0 (API 1)`. */
export const formatVersion = (v: MasterVersion): string => `${v.version} (API ${v.apiVersion})`;
