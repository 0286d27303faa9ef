/**
 * Hierarchical fair share (Slurm's Fair Tree, on Trainyard's groups). Usage is kept per
 * association: a user and the group their task was charged to (`userId:groupId`, 0 for none).
 * From the top, the children of each group (its subgroups, weighted by their fair-share weight, and
 * the users with tasks charged directly to it, weighing 1 each) are ranked by their level fairness,
 * share / usage (each as a fraction of the siblings'): the less a child used against its share, the
 * earlier it comes; the walk goes depth first in that order, so a whole group that used less than
 * its share comes before a sibling group that used more, and then people within it. The result is a
 * rank per association (1 first; associations that tie share a rank).
 */

export interface FairTreeGroup {
  id: number;
  parentId: number | null;
  fairShareWeight: number;
}

/** `userId:groupId`, 0 for a task in no group. */
export const associationKey = (userId: number, groupId: number | null) => `${userId}:${groupId ?? 0}`;

interface Child {
  /** A subgroup's id, or an association key. */
  group?: number;
  association?: string;
  weight: number;
  usage: number;
  /** Ties are broken by this, for a stable order. */
  tie: string;
}

/**
 * Ranks for the associations in `wanted` (those with queued tasks), given every association's
 * decayed usage score. Groups whose subtree holds no wanted association are not walked.
 */
export function fairTreeRanks(groups: FairTreeGroup[], usage: Map<string, number>, wanted: Set<string>): Map<string, number> {
  const children = new Map<number | null, number[]>();
  for (const g of groups) children.set(g.parentId, [...(children.get(g.parentId) ?? []), g.id]);
  const weight = new Map(groups.map((g) => [g.id, g.fairShareWeight > 0 ? g.fairShareWeight : 1]));

  // Associations by the group they were charged to (known groups only; a deleted group's count at the top).
  const direct = new Map<number | null, Map<string, number>>();
  const place = (key: string, score: number) => {
    const groupId = Number(key.slice(key.indexOf(':') + 1)) || null;
    const at = groupId !== null && weight.has(groupId) ? groupId : null;
    let map = direct.get(at);
    if (!map) direct.set(at, (map = new Map()));
    map.set(key, (map.get(key) ?? 0) + score);
  };
  for (const [key, score] of usage) place(key, score);
  for (const key of wanted) if (!usage.has(key)) place(key, 0);

  // Each group's subtree usage, and whether its subtree holds a wanted association.
  const subtreeUsage = new Map<number, number>();
  const wantedBelow = new Set<number>();
  const sum = (id: number): number => {
    let total = [...(direct.get(id)?.values() ?? [])].reduce((a, b) => a + b, 0);
    if ([...(direct.get(id)?.keys() ?? [])].some((k) => wanted.has(k))) wantedBelow.add(id);
    for (const child of children.get(id) ?? []) {
      total += sum(child);
      if (wantedBelow.has(child)) wantedBelow.add(id);
    }
    subtreeUsage.set(id, total);
    return total;
  };
  for (const root of children.get(null) ?? []) sum(root);

  const ranks = new Map<string, number>();
  let rank = 0;
  const visit = (node: number | null) => {
    const kids: Child[] = [
      ...(children.get(node) ?? []).map((id) => ({ group: id, weight: weight.get(id)!, usage: subtreeUsage.get(id) ?? 0, tie: `g${id}` })),
      ...[...(direct.get(node) ?? new Map<string, number>())].map(([key, score]) => ({ association: key, weight: 1, usage: score, tie: key })),
    ];
    const totalWeight = kids.reduce((a, k) => a + k.weight, 0) || 1;
    const totalUsage = kids.reduce((a, k) => a + k.usage, 0);
    const fairness = (k: Child) => {
      const share = k.weight / totalWeight;
      const used = totalUsage > 0 ? k.usage / totalUsage : 0;
      return used === 0 ? Number.POSITIVE_INFINITY : share / used;
    };
    const ordered = kids.map((k) => ({ k, lf: fairness(k) })).sort((a, b) => b.lf - a.lf || a.k.tie.localeCompare(b.k.tie));
    let previous: number | undefined;
    for (const { k, lf } of ordered) {
      if (k.group !== undefined) {
        if (wantedBelow.has(k.group)) visit(k.group);
        previous = undefined;
        continue;
      }
      if (!wanted.has(k.association!)) continue;
      // Users of one level with the same fairness share a rank (Slurm's ties).
      if (previous === undefined || lf !== previous) rank += 1;
      previous = lf;
      ranks.set(k.association!, rank);
    }
  };
  visit(null);
  // Anything wanted but unreachable (a group missing from the tree): last.
  for (const key of wanted) if (!ranks.has(key)) ranks.set(key, ++rank);
  return ranks;
}
