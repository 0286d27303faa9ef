import type { Capability, EffectiveCapability, SessionKind } from '@trainyard/shared';

/** One capability held through one assignment. */
export interface Grant {
  capability: Capability;
  role: string;
  /** `own` when the role was given to the user, else the path of the group it was given to. */
  via: string;
  /** Held only for the tasks of this group's direct members; null: for everyone's. */
  scope: string | null;
  scopeId: number | null;
}

export interface ActorInit {
  userId: number;
  username: string;
  active: boolean;
  groups: Array<{ id: number; path: string }>;
  capabilities: Grant[];
  session: { id: number; kind: SessionKind | 'api_token'; createdAt: number; expiresAt: number | null; name?: string };
  via: 'session' | 'cookie' | 'api_token';
}

/**
 * Who makes a request, resolved from its session or token on every request and never cached, so
 * that a change to groups, roles or the account applies on the next request of every session.
 */
export class Actor {
  readonly userId: number;
  readonly username: string;
  readonly active: boolean;
  readonly groups: ReadonlyArray<{ id: number; path: string }>;
  readonly capabilities: readonly Grant[];
  readonly session: ActorInit['session'];
  readonly via: ActorInit['via'];

  constructor(init: ActorInit) {
    this.userId = init.userId;
    this.username = init.username;
    this.active = init.active;
    this.groups = init.groups;
    this.capabilities = init.capabilities;
    this.session = init.session;
    this.via = init.via;
  }

  /** Holds `capability` for everyone (an unscoped grant). */
  can(capability: Capability): boolean {
    return this.capabilities.some((g) => g.capability === capability && g.scopeId === null);
  }

  /** Holds `capability` for a target whose owner is a direct member of `ownerGroupIds`. */
  canFor(capability: Capability, ownerGroupIds: readonly number[]): boolean {
    return this.capabilities.some((g) => g.capability === capability && (g.scopeId === null || ownerGroupIds.includes(g.scopeId)));
  }

  /** The groups `capability` is held for when it is held only scoped (for reasons). */
  scopesOf(capability: Capability): string[] {
    return [...new Set(this.capabilities.flatMap((g) => (g.capability === capability && g.scope !== null ? [g.scope] : [])))].sort();
  }

  effectiveCapabilities(): EffectiveCapability[] {
    return this.capabilities.map(({ capability, role, via, scope }) => ({ capability, role, via, scope }));
  }
}
