import { needs, selfOr, signedIn } from './policy.js';

/** Accounts. Everyone sees who has an account (as in PEDL); changing them needs change_config. */
export const userPolicies = {
  list: signedIn('users.list', 'any signed-in user: who has an account, their roles and groups'),
  view: signedIn('users.view', 'any signed-in user'),
  create: needs('users.create', 'change_config', 'create users'),
  update: needs('users.update', 'change_config', 'activate, deactivate, change the admin role or the auth backend of users'),
  link: needs('users.link', 'change_config', 'link users to agent users'),
  unlink: needs('users.unlink', 'change_config', 'unlink users from agent users'),
  setPassword: selfOr('users.password', 'change_config', (target) => `change the password of ${target.username}`),
  /** Groups, roles and effective capabilities: `yard user show`. */
  access: selfOr('users.access', 'change_config', (target) => `see what ${target.username} may do`),
};
