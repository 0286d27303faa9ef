import { DomainError } from '../errors.js';

/** What a check answers: allowed, or refused with a reason a person can act on. */
export type Decision = { allow: true } | { allow: false; reason: string };

export const allow: Decision = { allow: true };
export const deny = (reason: string): Decision => ({ allow: false, reason });

/** Throws 403 FORBIDDEN carrying the reason unless the decision allows. */
export function enforce(decision: Decision): void {
  if (!decision.allow) throw new DomainError('FORBIDDEN', decision.reason);
}
