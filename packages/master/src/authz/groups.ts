import { needs } from './policy.js';

/** Groups and their members: change_config, for reading too (they describe who may do what). */
export const groupPolicies = {
  list: needs('groups.list', 'change_config', 'list groups'),
  show: needs('groups.show', 'change_config', 'see groups'),
  create: needs('groups.create', 'change_config', 'create groups'),
  rename: needs('groups.rename', 'change_config', 'rename groups'),
  delete: needs('groups.delete', 'change_config', 'delete groups'),
  /** gid, Unix group name, uid range and shared directory: what members' tasks run as and with. */
  setUnix: needs('groups.set_unix', 'change_config', "set groups' Unix identity"),
  setPool: needs('groups.set_pool', 'change_config', "set groups' default pool"),
  setFairShare: needs('groups.set_fair_share', 'change_config', "set groups' fair-share weight"),
  addMember: needs('groups.add_member', 'change_config', 'add members to groups'),
  removeMember: needs('groups.remove_member', 'change_config', 'remove members from groups'),
};
