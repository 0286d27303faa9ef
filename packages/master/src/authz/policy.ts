import type { Capability } from '@trainyard/shared';
import type { Actor } from './actor.js';
import { allow, deny, type Decision } from './decision.js';

/**
 * A named authorization check. Every route is bound to exactly one (see routes.ts); the route
 * table in docs/routes.md lists them with `capability` (what the check rests on, if anything)
 * and `rule` (who passes, in words).
 */
export interface UserPolicy<T = void> {
  readonly audience: 'user';
  readonly name: string;
  readonly capability: Capability | null;
  readonly rule: string;
  check(actor: Actor, target: T): Decision;
}

/** Routes open to anyone (login, health) or to agents with an agent token, named like the rest. */
export interface OpenPolicy {
  readonly audience: 'public' | 'agent';
  readonly name: string;
  readonly capability: null;
  readonly rule: string;
  check(): Decision;
}

/**
 * A check on an agent's call about something of its own (the agent id in the path): the agent
 * token was the guard, this decides whether that token may act for the target.
 */
export interface AgentPolicy<T> {
  readonly audience: 'agent';
  readonly name: string;
  readonly capability: null;
  readonly rule: string;
  check(tokenId: number, target: T): Decision;
}

/**
 * A public route whose check decides on what the request itself carries (its address, a bearer
 * token), loaded by the route's `target`: no user or agent guard runs before it. `/metrics`.
 */
export interface RequestPolicy<T> {
  readonly audience: 'public';
  readonly name: string;
  readonly capability: null;
  readonly rule: string;
  check(request: T): Decision;
}

export type AnyPolicy = UserPolicy<never> | OpenPolicy | AgentPolicy<never> | RequestPolicy<never>;

export const userPolicy = <T = void>(policy: Omit<UserPolicy<T>, 'audience'>): UserPolicy<T> => ({ audience: 'user', ...policy });

export const openPolicy = (audience: OpenPolicy['audience'], name: string, rule: string): OpenPolicy => ({
  audience,
  name,
  capability: null,
  rule,
  check: () => allow,
});

export const agentPolicy = <T>(name: string, rule: string, check: AgentPolicy<T>['check']): AgentPolicy<T> => ({
  audience: 'agent',
  name,
  capability: null,
  rule,
  check,
});

/** Any signed-in user (the session or token itself was the check). */
export const signedIn = (name: string, rule = 'any signed-in user'): UserPolicy =>
  userPolicy({ name, capability: null, rule, check: () => allow });

/** Needs `capability` for everyone: `action` completes "<name> may not ...". */
export const needs = (name: string, capability: Capability, action: string): UserPolicy =>
  userPolicy({
    name,
    capability,
    rule: `holders of ${capability}`,
    check: (actor) => (actor.can(capability) ? allow : deny(lacks(actor, action, capability))),
  });

/** "carol may not create users: that needs change_config, which carol does not hold". */
export function lacks(actor: Actor, action: string, capability: Capability): string {
  const scopes = actor.scopesOf(capability);
  const held = scopes.length > 0 ? `${actor.username} holds ${capability} only for ${scopes.join(', ')}` : `${actor.username} does not hold it`;
  return `${actor.username} may not ${action}: that needs ${capability}, and ${held}`;
}

/** Yourself, or anyone with `capability`. */
export const selfOr = (name: string, capability: Capability, action: (target: { username: string }) => string) =>
  userPolicy<{ id: number; username: string }>({
    name,
    capability,
    rule: `yourself; anyone with ${capability}`,
    check: (actor, target) =>
      actor.userId === target.id || actor.can(capability) ? allow : deny(lacks(actor, action(target), capability)),
  });
