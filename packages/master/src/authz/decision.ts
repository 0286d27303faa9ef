import { DomainError } from '../errors.js';

/** What a check answers: allowed, or refused with a reason a person can act on. */
export type Decision = { allow: true } | { allow: false; reason: string; unauthenticated?: true };

export const allow: Decision = { allow: true };
export const deny = (reason: string): Decision => ({ allow: false, reason });
/** Refused for want of a credential (a missing or wrong token): 401 rather than 403. */
export const denyUnauthenticated = (reason: string): Decision => ({ allow: false, reason, unauthenticated: true });

/** Throws 403 FORBIDDEN (401 UNAUTHENTICATED for a missing credential) carrying the reason unless the decision allows. */
export function enforce(decision: Decision): void {
  if (!decision.allow) throw new DomainError(decision.unauthenticated ? 'UNAUTHENTICATED' : 'FORBIDDEN', decision.reason);
}
