// Every command, for oclif's explicit strategy: one import instead of a directory scan at start-up.
import UserActivate from './commands/user/activate.js';
import UserChangePassword from './commands/user/change-password.js';
import UserCreate from './commands/user/create.js';
import UserDeactivate from './commands/user/deactivate.js';
import UserLinkWithAgentUser from './commands/user/link-with-agent-user.js';
import UserList from './commands/user/list.js';
import UserLogin from './commands/user/login.js';
import UserLogout from './commands/user/logout.js';
import UserUnlinkAgentUser from './commands/user/unlink-agent-user.js';
import UserWhoami from './commands/user/whoami.js';

export const COMMANDS = {
  'user:activate': UserActivate,
  'user:change-password': UserChangePassword,
  'user:create': UserCreate,
  'user:deactivate': UserDeactivate,
  'user:link-with-agent-user': UserLinkWithAgentUser,
  'user:list': UserList,
  'user:login': UserLogin,
  'user:logout': UserLogout,
  'user:unlink-agent-user': UserUnlinkAgentUser,
  'user:whoami': UserWhoami,
};
