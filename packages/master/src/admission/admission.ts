import type { TaskConfig, TaskKind, UnixIdentity } from '@trainyard/shared';
import { resolveRunIdentity } from '../tasks/run-identity.js';
import { parseTaskConfig, type TaskDefaults } from '../tasks/task-config.js';
import type { UserRecord } from '../users/user-repository.js';
import { admitMounts } from './mount-policy.js';
import type { AdmissionPolicy } from './policy-schema.js';

/** What a task is admitted with: its config as it will run, and who it runs as. */
export interface Admitted {
  config: TaskConfig;
  runAs: UnixIdentity;
}

/**
 * The one step every task-creating request goes through, before anything is stored: validate
 * the config, fix the run identity (the owner's link, else security.default_task), then apply
 * the floor and the policy (today: the system layer's mount rule). A refusal is a 400 for a bad
 * config, or a 403 POLICY_DENIED naming the rule and the layer.
 */
export class Admission {
  constructor(
    private readonly deps: {
      defaultTask: UnixIdentity;
      taskDefaults: TaskDefaults;
      policy: AdmissionPolicy;
    },
  ) {}

  admit(owner: Pick<UserRecord, 'username' | 'agentUser'>, kind: TaskKind, rawConfig: unknown): Admitted {
    const parsed = parseTaskConfig(kind, rawConfig, this.deps.taskDefaults);
    const runAs = resolveRunIdentity(owner, this.deps.defaultTask);
    const bindMounts = admitMounts(parsed.bind_mounts, this.deps.policy.system.mounts.available, { username: owner.username, runAs });
    return { config: { ...parsed, bind_mounts: bindMounts }, runAs };
  }
}
