/**
 * Where a login may send the browser afterwards: `target` as a path of `origin` itself, or
 * undefined. It is resolved as a browser resolves a link (dot segments, a backslash read as a
 * slash, tabs and newlines dropped, `%2e` as a dot) and accepted only if the result is on
 * `origin` and, used as a link in its turn, stays there: `/.//evil.example` resolves to the path
 * `//evil.example`, which a browser reads as another host. Zod-free: the web UI imports it.
 */
export function sameOriginPath(target: string | null | undefined, origin: string): string | undefined {
  if (!target || !target.startsWith('/')) return undefined;
  const path = resolvedPath(target, origin);
  // Used as a link, the path must lead to the same place (and so to this origin) again.
  return path !== undefined && !path.startsWith('//') && resolvedPath(path, origin) === path ? path : undefined;
}

function resolvedPath(target: string, origin: string): string | undefined {
  try {
    const url = new URL(target, origin);
    return url.origin === new URL(origin).origin ? url.pathname + url.search + url.hash : undefined;
  } catch {
    return undefined;
  }
}
