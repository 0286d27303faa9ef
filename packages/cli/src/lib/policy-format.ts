import type { EffectiveRule, PolicyView } from '@trainyard/shared';
import { formatByteSize } from '@trainyard/shared/constants';
import type { View } from './output.js';
import { renderTable } from './table.js';

interface MountValue {
  host_path: string;
  container_path?: string;
  read_only: boolean;
}

const mount = (m: MountValue) => `${m.host_path} -> ${m.container_path ?? '(where the task says)'}${m.read_only ? ' (read-only)' : ''}`;

/** One rule's value in words: lists joined, `none` for empty ones and unset limits. */
export function formatRuleValue(rule: EffectiveRule): string {
  const { value } = rule;
  if (value === null) return 'none';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (rule.rule.endsWith('.memory') && typeof value === 'number') return formatByteSize(value);
  if (rule.rule.startsWith('mounts.')) return (value as MountValue[]).map(mount).join('; ') || 'none';
  if (rule.rule === 'images.allow') return (value as string[]).map((p) => `"${p}"`).join(', ') || 'none';
  if (rule.rule === 'env.set') return Object.entries(value as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(', ') || 'none';
  if (Array.isArray(value)) return value.join(', ') || 'none';
  return String(value);
}

export const rulesView: View<EffectiveRule> = {
  name: (r) => r.rule,
  columns: [
    { header: 'RULE', field: 'rule', get: (r) => r.rule },
    { header: 'VALUE', field: 'value', get: formatRuleValue, raw: (r) => (typeof r.value === 'object' && r.value !== null ? JSON.stringify(r.value) : (r.value as string | number | boolean | null)) },
    { header: 'FROM', field: 'layer', get: (r) => (r.isDefault ? `${r.layer} (default)` : r.layer) },
  ],
};

export function describePolicy(view: PolicyView): string {
  const whose = view.user ? `for ${view.user}` : `for members of ${view.group}`;
  return `The admission policy ${whose} (layers, least specific first: ${view.layers.join(', ')}):\n${renderTable(view.rules, rulesView.columns)}`;
}
