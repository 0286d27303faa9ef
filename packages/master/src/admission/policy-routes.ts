import type Router from '@koa/router';
import { policyShowQuerySchema } from '@trainyard/shared';
import { admissionPolicies, type PolicySubjectTarget } from '../authz/admission.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { GroupService } from '../groups/group-service.js';
import type { UserService } from '../users/user-service.js';
import type { PolicyStore } from './policy-store.js';

/** `yard policy show` and `yard policy reload`. */
export function policyRoutes(store: PolicyStore, deps: { users: UserService; groups: GroupService }, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);

  routes.on('policy.show', admissionPolicies.show, {
    target: async (ctx, actor): Promise<PolicySubjectTarget> => {
      const query = validate(policyShowQuerySchema, ctx.query);
      if (query.group !== undefined) return { group: (await deps.groups.require(query.group)).path };
      const user = query.user === undefined ? await deps.users.requireById(actor.userId) : await deps.users.require(query.user);
      return { user: { id: user.id, username: user.username } };
    },
    handle: async (ctx, _actor, target) => {
      if ('group' in target) {
        ctx.body = store.current.view({ groups: [target.group], group: target.group });
        return;
      }
      const groups = await deps.groups.pathsOfUser(target.user.id);
      ctx.body = store.current.view({ username: target.user.username, groups });
    },
  });

  routes.on('policy.reload', admissionPolicies.reload, async (ctx, actor) => {
    ctx.body = await store.reload(actor);
  });

  return routes.router;
}
