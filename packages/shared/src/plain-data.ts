/** How deep a JSON body or YAML document may nest; real configs stay under ten levels. */
export const MAX_DOCUMENT_DEPTH = 64;

/**
 * Keys refused in every document: JavaScript gives them meaning (`{"__proto__": ...}` would set a
 * prototype, or be dropped silently on the way to a record), and no Trainyard field is named so.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Walks parsed input (a JSON body, a YAML document) without recursion and says what makes it
 * unsafe to handle further: nesting deeper than `maxDepth`, a forbidden key, or a cycle (a YAML
 * alias that refers to itself). Undefined when it is plain, finite data.
 */
export function findUnsafeStructure(value: unknown, maxDepth = MAX_DOCUMENT_DEPTH): string | undefined {
  // Each entry is a container and its depth; `onPath` holds the containers above the current one.
  const stack: Array<{ node: object; depth: number; leaving: boolean }> = [];
  const onPath = new Set<object>();
  if (typeof value === 'object' && value !== null) stack.push({ node: value, depth: 1, leaving: false });
  while (stack.length > 0) {
    const { node, depth, leaving } = stack.pop()!;
    if (leaving) {
      onPath.delete(node);
      continue;
    }
    if (onPath.has(node)) return 'it refers to itself (a YAML alias inside its own anchor)';
    if (depth > maxDepth) return `it nests deeper than ${maxDepth} levels`;
    onPath.add(node);
    stack.push({ node, depth, leaving: true });
    const children = Array.isArray(node) ? node : Object.values(node);
    if (!Array.isArray(node)) {
      const forbidden = Object.keys(node).find((key) => FORBIDDEN_KEYS.has(key));
      if (forbidden !== undefined) return `it has a key named "${forbidden}", which is not allowed anywhere`;
    }
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push({ node: child, depth: depth + 1, leaving: false });
    }
  }
  return undefined;
}
