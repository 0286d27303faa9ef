import { GROUP_SEGMENT_PATTERN, MAX_GROUP_DEPTH, NAME_PATTERN, type TaskKind } from './constants.js';

/**
 * The web UI's pages, one list for both sides: the UI routes by it, and the master answers these
 * paths (and only these) with the UI's index.html; any other path that is not a built file is a
 * JSON 404.
 */

/** The task tabs: path section to task kind (`/experiments`, `/experiments/12`). */
export const TASK_SECTIONS: Readonly<Record<string, TaskKind>> = {
  experiments: 'experiment',
  notebooks: 'notebook',
  commands: 'command',
  tensorboards: 'tensorboard',
  shells: 'shell',
};

export type WebPage =
  | { page: 'home' }
  | { page: 'login' }
  | { page: 'tasks'; section: string; kind: TaskKind }
  | { page: 'task'; section: string; kind: TaskKind; id: number }
  | { page: 'users' }
  | { page: 'groups' }
  | { page: 'group'; path: string }
  | { page: 'roles' }
  | { page: 'role'; name: string }
  | { page: 'agents' }
  | { page: 'quotas' }
  | { page: 'my-usage' }
  | { page: 'overview' }
  | { page: 'usage' }
  | { page: 'change-password' };

/** Which page a path (without its query) shows, or undefined when the UI has no such page. */
export function matchWebPage(path: string): WebPage | undefined {
  const parts = path.split('/').filter(Boolean);
  const [first, second, ...rest] = parts;
  // Group paths hold "/": /groups/research/vision is the group research/vision.
  if (first === 'groups') return second === undefined ? { page: 'groups' } : groupPage([second, ...rest].join('/'));
  if (rest.length > 0) return undefined;
  if (first === undefined) return { page: 'home' };
  if (first === 'login' && second === undefined) return { page: 'login' };
  if (first === 'users' && second === undefined) return { page: 'users' };
  if (first === 'agents' && second === undefined) return { page: 'agents' };
  if (first === 'quotas' && second === undefined) return { page: 'quotas' };
  if (first === 'roles') return second === undefined ? { page: 'roles' } : rolePage(second);
  if (first === 'account' && second === 'password') return { page: 'change-password' };
  if (first === 'account' && second === 'usage') return { page: 'my-usage' };
  if (first === 'overview' && second === undefined) return { page: 'overview' };
  if (first === 'usage' && second === undefined) return { page: 'usage' };
  const kind = Object.hasOwn(TASK_SECTIONS, first) ? TASK_SECTIONS[first] : undefined;
  if (!kind) return undefined;
  if (second === undefined) return { page: 'tasks', section: first, kind };
  return /^\d{1,15}$/.test(second) ? { page: 'task', section: first, kind, id: Number(second) } : undefined;
}

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function groupPage(raw: string): WebPage | undefined {
  const path = decoded(raw);
  const segments = path?.split('/') ?? [];
  const valid = segments.length > 0 && segments.length <= MAX_GROUP_DEPTH && segments.every((s) => GROUP_SEGMENT_PATTERN.test(s));
  return valid ? { page: 'group', path: path! } : undefined;
}

function rolePage(raw: string): WebPage | undefined {
  const name = decoded(raw);
  return name && NAME_PATTERN.test(name) ? { page: 'role', name } : undefined;
}
