import { needs } from './policy.js';

export const auditPolicies = {
  list: needs('audit.list', 'change_config', 'read the audit log'),
};
