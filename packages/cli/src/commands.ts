// Every command, for oclif's explicit strategy: one import instead of a directory scan at start-up.
import AgentDisable from './commands/agent/disable.js';
import AgentEnable from './commands/agent/enable.js';
import AgentList from './commands/agent/list.js';
import AgentTokenCreate from './commands/agent/token/create.js';
import AgentTokenList from './commands/agent/token/list.js';
import AgentTokenRevoke from './commands/agent/token/revoke.js';
import AuditList from './commands/audit/list.js';
import Autocomplete from './commands/autocomplete.js';
import CommandDescribe from './commands/command/describe.js';
import CommandKill from './commands/command/kill.js';
import CommandList from './commands/command/list.js';
import CommandLogs from './commands/command/logs.js';
import CommandRun from './commands/command/run.js';
import ContextAdd from './commands/context/add.js';
import ContextCurrent from './commands/context/current.js';
import ContextList from './commands/context/list.js';
import ContextRemove from './commands/context/remove.js';
import ContextUse from './commands/context/use.js';
import ExperimentCreate from './commands/experiment/create.js';
import ExperimentDescribe from './commands/experiment/describe.js';
import ExperimentKill from './commands/experiment/kill.js';
import ExperimentList from './commands/experiment/list.js';
import ExperimentLogs from './commands/experiment/logs.js';
import GroupAddMember from './commands/group/add-member.js';
import GroupCreate from './commands/group/create.js';
import GroupDelete from './commands/group/delete.js';
import GroupList from './commands/group/list.js';
import GroupRemoveMember from './commands/group/remove-member.js';
import GroupRename from './commands/group/rename.js';
import GroupSet from './commands/group/set.js';
import GroupShow from './commands/group/show.js';
import HelpCommand from './commands/help.js';
import ImageList from './commands/image/list.js';
import ImageLoad from './commands/image/load.js';
import ImagePull from './commands/image/pull.js';
import ImageRm from './commands/image/rm.js';
import NotebookDescribe from './commands/notebook/describe.js';
import NotebookKill from './commands/notebook/kill.js';
import NotebookList from './commands/notebook/list.js';
import NotebookLogs from './commands/notebook/logs.js';
import NotebookOpen from './commands/notebook/open.js';
import NotebookStart from './commands/notebook/start.js';
import PolicyReload from './commands/policy/reload.js';
import PoolList from './commands/pool/list.js';
import PolicyShow from './commands/policy/show.js';
import QueueCommand from './commands/queue.js';
import UsageCommand from './commands/usage.js';
import QuotaAssign from './commands/quota/assign.js';
import QuotaCreate from './commands/quota/create.js';
import QuotaDelete from './commands/quota/delete.js';
import QuotaList from './commands/quota/list.js';
import QuotaSet from './commands/quota/set.js';
import QuotaShow from './commands/quota/show.js';
import QuotaUnassign from './commands/quota/unassign.js';
import QuotaGuaranteeDelete from './commands/quota/guarantee/delete.js';
import QuotaGuaranteeList from './commands/quota/guarantee/list.js';
import QuotaGuaranteeSet from './commands/quota/guarantee/set.js';
import WhyCommand from './commands/why.js';
import RoleAssign from './commands/role/assign.js';
import RoleCreate from './commands/role/create.js';
import RoleDelete from './commands/role/delete.js';
import RoleEdit from './commands/role/edit.js';
import RoleList from './commands/role/list.js';
import RoleShow from './commands/role/show.js';
import RoleUnassign from './commands/role/unassign.js';
import ShellDescribe from './commands/shell/describe.js';
import ShellKill from './commands/shell/kill.js';
import ShellList from './commands/shell/list.js';
import ShellLogs from './commands/shell/logs.js';
import ShellOpen from './commands/shell/open.js';
import ShellStart from './commands/shell/start.js';
import TaskDelete from './commands/task/delete.js';
import TaskDescribe from './commands/task/describe.js';
import TaskKill from './commands/task/kill.js';
import TaskList from './commands/task/list.js';
import TaskLogs from './commands/task/logs.js';
import TaskWait from './commands/task/wait.js';
import TensorboardDescribe from './commands/tensorboard/describe.js';
import TensorboardKill from './commands/tensorboard/kill.js';
import TensorboardList from './commands/tensorboard/list.js';
import TensorboardLogs from './commands/tensorboard/logs.js';
import TensorboardOpen from './commands/tensorboard/open.js';
import TensorboardStart from './commands/tensorboard/start.js';
import TokenCreate from './commands/token/create.js';
import TokenList from './commands/token/list.js';
import TokenRevoke from './commands/token/revoke.js';
import UserActivate from './commands/user/activate.js';
import UserChangePassword from './commands/user/change-password.js';
import UserCreate from './commands/user/create.js';
import UserDeactivate from './commands/user/deactivate.js';
import UserLinkWithAgentUser from './commands/user/link-with-agent-user.js';
import UserList from './commands/user/list.js';
import UserLogin from './commands/user/login.js';
import UserLogout from './commands/user/logout.js';
import UserSessions from './commands/user/sessions.js';
import UserShow from './commands/user/show.js';
import UserSet from './commands/user/set.js';
import UserUnlinkAgentUser from './commands/user/unlink-agent-user.js';
import UserWhoami from './commands/user/whoami.js';
import Version from './commands/version.js';

export const COMMANDS = {
  'agent:disable': AgentDisable,
  'agent:enable': AgentEnable,
  'agent:list': AgentList,
  'agent:token:create': AgentTokenCreate,
  'agent:token:list': AgentTokenList,
  'agent:token:revoke': AgentTokenRevoke,
  'audit:list': AuditList,
  autocomplete: Autocomplete,
  'command:describe': CommandDescribe,
  'command:kill': CommandKill,
  'command:list': CommandList,
  'command:logs': CommandLogs,
  'command:run': CommandRun,
  'context:add': ContextAdd,
  'context:current': ContextCurrent,
  'context:list': ContextList,
  'context:remove': ContextRemove,
  'context:use': ContextUse,
  'experiment:create': ExperimentCreate,
  'experiment:describe': ExperimentDescribe,
  'experiment:kill': ExperimentKill,
  'experiment:list': ExperimentList,
  'experiment:logs': ExperimentLogs,
  'group:add-member': GroupAddMember,
  'group:create': GroupCreate,
  'group:delete': GroupDelete,
  'group:list': GroupList,
  'group:remove-member': GroupRemoveMember,
  'group:rename': GroupRename,
  'group:set': GroupSet,
  'group:show': GroupShow,
  help: HelpCommand,
  'image:list': ImageList,
  'image:load': ImageLoad,
  'image:pull': ImagePull,
  'image:rm': ImageRm,
  'notebook:describe': NotebookDescribe,
  'notebook:kill': NotebookKill,
  'notebook:list': NotebookList,
  'notebook:logs': NotebookLogs,
  'notebook:open': NotebookOpen,
  'notebook:start': NotebookStart,
  'policy:reload': PolicyReload,
  'policy:show': PolicyShow,
  'pool:list': PoolList,
  queue: QueueCommand,
  usage: UsageCommand,
  'quota:assign': QuotaAssign,
  'quota:create': QuotaCreate,
  'quota:delete': QuotaDelete,
  'quota:list': QuotaList,
  'quota:set': QuotaSet,
  'quota:show': QuotaShow,
  'quota:unassign': QuotaUnassign,
  'quota:guarantee:delete': QuotaGuaranteeDelete,
  'quota:guarantee:list': QuotaGuaranteeList,
  'quota:guarantee:set': QuotaGuaranteeSet,
  why: WhyCommand,
  'role:assign': RoleAssign,
  'role:create': RoleCreate,
  'role:delete': RoleDelete,
  'role:edit': RoleEdit,
  'role:list': RoleList,
  'role:show': RoleShow,
  'role:unassign': RoleUnassign,
  'shell:describe': ShellDescribe,
  'shell:kill': ShellKill,
  'shell:list': ShellList,
  'shell:logs': ShellLogs,
  'shell:open': ShellOpen,
  'shell:start': ShellStart,
  'task:delete': TaskDelete,
  'task:describe': TaskDescribe,
  'task:kill': TaskKill,
  'task:list': TaskList,
  'task:logs': TaskLogs,
  'task:wait': TaskWait,
  'tensorboard:describe': TensorboardDescribe,
  'tensorboard:kill': TensorboardKill,
  'tensorboard:list': TensorboardList,
  'tensorboard:logs': TensorboardLogs,
  'tensorboard:open': TensorboardOpen,
  'tensorboard:start': TensorboardStart,
  'token:create': TokenCreate,
  'token:list': TokenList,
  'token:revoke': TokenRevoke,
  'user:activate': UserActivate,
  'user:change-password': UserChangePassword,
  'user:create': UserCreate,
  'user:deactivate': UserDeactivate,
  'user:link-with-agent-user': UserLinkWithAgentUser,
  'user:list': UserList,
  'user:login': UserLogin,
  'user:logout': UserLogout,
  'user:sessions': UserSessions,
  'user:show': UserShow,
  'user:set': UserSet,
  'user:unlink-agent-user': UserUnlinkAgentUser,
  'user:whoami': UserWhoami,
  version: Version,
};
