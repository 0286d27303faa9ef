import { needs } from './policy.js';

/** Roles and their assignments: change_config, for reading too. */
export const rolePolicies = {
  list: needs('roles.list', 'change_config', 'list roles'),
  show: needs('roles.show', 'change_config', 'see roles'),
  create: needs('roles.create', 'change_config', 'create roles'),
  update: needs('roles.update', 'change_config', 'edit roles'),
  delete: needs('roles.delete', 'change_config', 'delete roles'),
  assign: needs('roles.assign', 'change_config', 'assign roles'),
  unassign: needs('roles.unassign', 'change_config', 'unassign roles'),
};
