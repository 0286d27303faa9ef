import { API_TOKEN_PREFIX } from '@trainyard/shared';
import type { RoleService } from '../roles/role-service.js';
import { UNAUTHENTICATED } from '../sessions/session-service.js';
import type { SessionService } from '../sessions/session-service.js';
import type { TokenService } from '../tokens/token-service.js';
import { Actor } from './actor.js';
import { enforce } from './decision.js';
import { tokenPolicies } from './tokens.js';

/**
 * Turns a request's session or API token into its Actor, afresh on every request: one query for
 * the credential and its user, one for the user's groups and grants. Nothing is cached, so a
 * change to roles, groups or the account applies on the very next request.
 */
export class ActorResolver {
  constructor(private readonly deps: { sessions: SessionService; tokens: TokenService; roles: RoleService }) {}

  async resolve(token: string | undefined, via: 'session' | 'cookie'): Promise<Actor> {
    if (!token) throw UNAUTHENTICATED();
    if (token.startsWith(API_TOKEN_PREFIX)) return this.fromApiToken(token);
    const { session, user } = await this.deps.sessions.authenticate(token);
    const { groups, grants } = await this.deps.roles.grantsFor(user.id);
    return new Actor({
      userId: user.id,
      username: user.username,
      active: user.active,
      groups,
      capabilities: grants.map((g) => ({ ...g, via: g.viaGroup ?? 'own' })),
      session: { id: session.id, kind: session.kind, createdAt: session.createdAt, expiresAt: session.expiresAt },
      via,
    });
  }

  private async fromApiToken(token: string): Promise<Actor> {
    const found = await this.deps.tokens.authenticate(token);
    if (!found.user.active) throw UNAUTHENTICATED();
    const { groups, grants } = await this.deps.roles.grantsFor(found.user.id);
    const actor = new Actor({
      userId: found.user.id,
      username: found.user.username,
      active: found.user.active,
      groups,
      capabilities: grants.map((g) => ({ ...g, via: g.viaGroup ?? 'own' })),
      session: { id: found.token.id, kind: 'api_token', createdAt: found.token.createdAt, expiresAt: found.token.expiresAt, name: found.token.name },
      via: 'api_token',
    });
    // A token is only as good as its owner's access_api, checked on every request.
    enforce(tokenPolicies.use.check(actor));
    return actor;
  }
}
