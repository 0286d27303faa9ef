import type { GroupNode } from '../groups/group-repository.js';
import type { QuotaAssignmentRecord, QuotaRecord } from './quota-repository.js';

/** The quotas given to one group: they count the tasks of its whole subtree. */
export interface GroupLayer {
  id: number;
  path: string;
  quotas: QuotaRecord[];
}

/**
 * Quotas by whom they cover, with the tree of groups (issue 26: a group's quota counts the tasks
 * charged to it and to every group below it, so `research` covers `research/vision`). Built once
 * from the tables and cached by the quotas service until something changes.
 */
export class QuotaRules {
  /** Whether any quota is assigned at all (the scheduler skips the gate when none is). */
  readonly any: boolean;
  /** Whether any assigned quota has a budget over time (gpu_hours, cpu_hours). */
  readonly budgets: boolean;
  readonly byUser = new Map<number, QuotaRecord[]>();
  readonly byGroup = new Map<number, GroupLayer>();
  readonly groups = new Map<number, GroupNode>();
  private readonly children = new Map<number, number[]>();
  private readonly layersMemo = new Map<number, GroupLayer[]>();
  private readonly subtreeMemo = new Map<number, number[]>();

  constructor(quotas: QuotaRecord[], assignments: QuotaAssignmentRecord[], tree: GroupNode[]) {
    const byId = new Map(quotas.map((q) => [q.id, q]));
    for (const node of tree) {
      this.groups.set(node.id, node);
      if (node.parentId !== null) this.children.set(node.parentId, [...(this.children.get(node.parentId) ?? []), node.id]);
    }
    let budgets = false;
    for (const a of assignments) {
      const quota = byId.get(a.quotaId)!;
      budgets ||= quota.gpuHours !== null || quota.cpuHours !== null;
      if (a.userId !== null) this.byUser.set(a.userId, [...(this.byUser.get(a.userId) ?? []), quota]);
      if (a.groupId !== null) {
        const layer = this.byGroup.get(a.groupId) ?? { id: a.groupId, path: a.group!, quotas: [] };
        layer.quotas.push(quota);
        this.byGroup.set(a.groupId, layer);
      }
    }
    this.any = assignments.length > 0;
    this.budgets = budgets;
  }

  /**
   * The group layers covering a task charged to `groupId`: its own group's quotas and those of
   * every group above it, nearest first. Empty for a task in no group.
   */
  groupLayers(groupId: number | null): GroupLayer[] {
    if (groupId === null || this.byGroup.size === 0) return [];
    let layers = this.layersMemo.get(groupId);
    if (!layers) {
      layers = [];
      for (let id: number | null = groupId, depth = 0; id !== null && depth < 64; depth++) {
        const layer = this.byGroup.get(id);
        if (layer) layers.push(layer);
        id = this.groups.get(id)?.parentId ?? null;
      }
      this.layersMemo.set(groupId, layers);
    }
    return layers;
  }

  /** A group and every group below it (what a group quota counts). */
  subtree(groupId: number): number[] {
    let ids = this.subtreeMemo.get(groupId);
    if (!ids) {
      ids = [];
      const stack = [groupId];
      while (stack.length > 0) {
        const id = stack.pop()!;
        ids.push(id);
        stack.push(...(this.children.get(id) ?? []));
      }
      this.subtreeMemo.set(groupId, ids);
    }
    return ids;
  }

  /** The group and the groups above it, nearest first (ids). */
  ancestry(groupId: number | null): number[] {
    const ids: number[] = [];
    for (let id = groupId, depth = 0; id !== null && depth < 64; depth++) {
      ids.push(id);
      id = this.groups.get(id)?.parentId ?? null;
    }
    return ids;
  }

  pathOf(groupId: number): string | undefined {
    return this.groups.get(groupId)?.path;
  }

  /** The group's subgroups (ids). */
  childrenOf(groupId: number): number[] {
    return this.children.get(groupId) ?? [];
  }

  /** Top-level groups (ids). */
  roots(): number[] {
    return [...this.groups.values()].filter((g) => g.parentId === null).map((g) => g.id);
  }
}
