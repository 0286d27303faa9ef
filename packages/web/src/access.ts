import type { Capability, MeResponse } from '@trainyard/shared';

/** Holds `capability` for everyone (what admin pages need). The master decides every request anyway. */
export const can = (me: MeResponse, capability: Capability): boolean =>
  me.capabilities.some((c) => c.capability === capability && c.scope === null);

/** Holds `capability` at all, scoped or not (enough to offer a button the master may still refuse). */
export const holds = (me: MeResponse, capability: Capability): boolean => me.capabilities.some((c) => c.capability === capability);
