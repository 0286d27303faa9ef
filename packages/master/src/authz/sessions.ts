import { allow, deny } from './decision.js';
import { lacks, openPolicy, selfOr, signedIn, userPolicy } from './policy.js';

/** Logins and sessions. Login is open (and throttled); a session is its owner's to end, or change_config's. */
export const sessionPolicies = {
  login: openPolicy('public', 'sessions.login', 'anyone (throttled per user and address)'),
  logout: signedIn('sessions.logout', 'the session itself (with all: every session of its user)'),
  me: signedIn('sessions.me'),
  list: selfOr('sessions.list', 'change_config', (target) => `see the sessions of ${target.username}`),
  revoke: userPolicy<{ id: number; userId: number; username: string }>({
    name: 'sessions.revoke',
    capability: 'change_config',
    rule: 'your own sessions; anyone\'s with change_config',
    check: (actor, session) =>
      actor.userId === session.userId || actor.can('change_config')
        ? allow
        : deny(lacks(actor, `end session ${session.id} of ${session.username}`, 'change_config')),
  }),
};
