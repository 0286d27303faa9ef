import test from 'ava';
import { associationKey as key, fairTreeRanks, type FairTreeGroup } from './fair-tree.js';

// Users 1 alice, 2 bob, 3 carol, 4 dave; groups as each test draws them.
const group = (id: number, parentId: number | null, fairShareWeight = 1): FairTreeGroup => ({ id, parentId, fairShareWeight });
const order = (ranks: Map<string, number>) => [...ranks].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).map(([k, r]) => `${k}#${r}`);

test('a group that used less than its share comes first, then people within the other group by their own usage', (t) => {
  // 1 busy, 2 calm, siblings at the top. alice used a lot in busy, carol nothing in busy, bob a little in calm.
  const groups = [group(1, null), group(2, null)];
  const usage = new Map([[key(1, 1), 100], [key(2, 2), 10]]);
  const ranks = fairTreeRanks(groups, usage, new Set([key(1, 1), key(3, 1), key(2, 2)]));
  // Flat fair share would put carol (nothing used) before bob; Fair Tree ranks calm's subtree first.
  t.deepEqual(order(ranks), ['2:2#1', '3:1#2', '1:1#3']);
});

test("a group's fair-share weight is its share: four times the weight may use more and still come first", (t) => {
  const groups = [group(1, null, 1), group(2, null, 4)];
  // Shares 0.2 and 0.8; used 0.25 and 0.75: group 2 is under its share, group 1 over.
  const usage = new Map([[key(1, 1), 10], [key(2, 2), 30]]);
  t.deepEqual(order(fairTreeRanks(groups, usage, new Set([key(1, 1), key(2, 2)]))), ['2:2#1', '1:1#2']);
  // With equal weights the one who used less comes first.
  const even = [group(1, null, 1), group(2, null, 1)];
  t.deepEqual(order(fairTreeRanks(even, usage, new Set([key(1, 1), key(2, 2)]))), ['1:1#1', '2:2#2']);
});

test('three levels deep: the walk goes depth first in fairness order; usage of a whole subtree counts for it', (t) => {
  // research (1) with vision (2) and nlp (3); physics (4). vision used 50, nlp 0, physics 40.
  const groups = [group(1, null), group(2, 1), group(3, 1), group(4, null)];
  const usage = new Map([[key(1, 2), 50], [key(4, 4), 40]]);
  const wanted = new Set([key(1, 2), key(2, 3), key(3, 4), key(4, 4)]);
  // Top: research (50) against physics (40): physics first, then research's nlp (0) before vision (50).
  t.deepEqual(order(fairTreeRanks(groups, usage, wanted)), ['3:4#1', '4:4#2', '2:3#3', '1:2#4']);
});

test('people of one level with the same fairness share a rank; tasks in no group rank beside the top groups', (t) => {
  const groups = [group(1, null)];
  const usage = new Map([[key(1, 0), 5], [key(2, 0), 5], [key(3, 1), 1]]);
  const ranks = fairTreeRanks(groups, usage, new Set([key(1, 0), key(2, 0), key(3, 1)]));
  // Top: group 1 (1 used) ahead of alice and bob (5 each, a tie: one rank).
  t.deepEqual(order(ranks), ['3:1#1', '1:0#2', '2:0#2']);
});

test("only the wanted associations get a rank; a group no longer in the tree counts at the top, with what it used", (t) => {
  const groups = [group(1, null)];
  const usage = new Map([[key(1, 1), 3], [key(2, 1), 1], [key(4, 99), 50]]);
  // bob (2:1) has no queued task: no rank. Group 1 (4 used) against the deleted group's 50 at the top.
  t.deepEqual(order(fairTreeRanks(groups, usage, new Set([key(1, 1), key(4, 99)]))), ['1:1#1', '4:99#2']);
  // Nothing used there yet: it comes first, as a user who used nothing would.
  t.deepEqual(order(fairTreeRanks(groups, new Map([[key(1, 1), 3]]), new Set([key(1, 1), key(4, 99)]))), ['4:99#1', '1:1#2']);
});
