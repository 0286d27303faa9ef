import type { ErrorBody, ErrorCode } from '@trainyard/shared';

/**
 * A failure the client caused or may act on. Domains throw these; the one error
 * middleware turns them into a status and `{"error": {...}}`.
 */
export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { details?: ErrorBody['error']['details']; retryAfterSeconds?: number } = {},
  ) {
    super(message);
  }
}

export const invalidInput = (message: string, details?: ErrorBody['error']['details']) =>
  new DomainError('INVALID_INPUT', message, details ? { details } : {});

/** A task the admission policy or the floor refuses: 403 naming the rule and the layer it sits in. */
export const policyDenied = (message: string, rule: string, layer: string) =>
  new DomainError('POLICY_DENIED', message, { details: { rule, layer } });
