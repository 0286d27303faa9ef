import { IDENTITY_FIELDS, type IdentityField, type IdentitySource, type RunIdentity, type UnixIdentity } from '@trainyard/shared';

/** One place a run identity may come from; it gives some fields, or none. */
export interface IdentityStep<S> {
  source: IdentitySource;
  provide(subject: S): Partial<RunIdentity> | undefined;
}

export interface ResolvedIdentity {
  runAs: RunIdentity;
  /** Which step set each field, for `describe` and `--dry-run`. */
  sources: Record<IdentityField, IdentitySource>;
}

/**
 * Resolves who a task runs as, field by field: each field comes from the first step of the chain
 * that gives it. Today the chain is the owner's agent-user link, then security.default_task (which
 * gives every field); a group's UID range or fixed identity will go first. Nothing in the task's
 * own config takes part.
 */
export function resolveIdentity<S>(chain: ReadonlyArray<IdentityStep<S>>, subject: S): ResolvedIdentity {
  const runAs: Partial<RunIdentity> = {};
  const sources: Partial<Record<IdentityField, IdentitySource>> = {};
  for (const step of chain) {
    const given = step.provide(subject);
    if (!given) continue;
    for (const field of IDENTITY_FIELDS) {
      if (runAs[field] === undefined && given[field] !== undefined) {
        (runAs as Record<IdentityField, unknown>)[field] = given[field];
        sources[field] = step.source;
      }
    }
  }
  const missing = IDENTITY_FIELDS.filter((f) => runAs[f] === undefined);
  if (missing.length > 0) throw new Error(`the identity chain left ${missing.join(', ')} unset`);
  return { runAs: runAs as RunIdentity, sources: sources as Record<IdentityField, IdentitySource> };
}

/** The owner's agent-user link (an admin sets it with `yard user link-with-agent-user`). */
export const linkStep: IdentityStep<{ agentUser: UnixIdentity | null }> = {
  source: 'link',
  provide: (owner) => (owner.agentUser ? { ...owner.agentUser } : undefined),
};

/** master.yaml security.default_task: the end of the chain, giving every field. */
export const defaultTaskStep = (identity: UnixIdentity): IdentityStep<unknown> => ({
  source: 'default_task',
  provide: () => ({ ...identity, supplementaryGroups: [] }),
});
