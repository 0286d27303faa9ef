import { chmodSync, chownSync, lstatSync, mkdirSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';
import { GROUP_SEGMENT_PATTERN, type RunBindMount, type RunSharedDir } from '@trainyard/shared';

/** setgid (new files keep the group) and rwx for root and the group, nothing for others. */
const SHARED_MODE = 0o2770;

/**
 * Groups' shared directories under this agent's `--shared-root`: `<root>/<group path>`, created
 * when first needed (missing parents as root:root 0755) as root:<gid> mode 2770, and handed back
 * as bind mounts to `/shared/<group path>`. An existing directory must be a real directory (no
 * link anywhere on the way) owned by root:<gid>; a wrong mode is set right, a wrong owner is
 * refused (an admin fixes it: it may hold someone's files). Nothing is ever deleted here.
 */
export function sharedDirMounts(sharedRoot: string | undefined, dirs: readonly RunSharedDir[]): { mounts: RunBindMount[] } | { refused: string } {
  if (dirs.length === 0) return { mounts: [] };
  if (!sharedRoot) {
    return {
      refused: `the task mounts the shared director${dirs.length > 1 ? 'ies' : 'y'} of ${dirs.map((d) => d.group).join(', ')}, but this agent has no --shared-root; an admin starts it with one (such as --shared-root /shared)`,
    };
  }
  const mounts: RunBindMount[] = [];
  for (const dir of dirs) {
    const made = ensureSharedDir(sharedRoot, dir);
    if ('refused' in made) return made;
    mounts.push({ hostPath: made.path, containerPath: dir.containerPath, readOnly: false, allowedRoot: sharedRoot, source: 'group_shared', rule: 'group.shared_dir' });
  }
  return { mounts };
}

function ensureSharedDir(root: string, dir: RunSharedDir): { path: string } | { refused: string } {
  const refuse = (why: string) => ({ refused: `shared directory of ${dir.group}: ${why}` });
  // The master names the group; the agent trusts no name that could walk out of its root.
  const segments = dir.group.split('/');
  if (!segments.every((s) => GROUP_SEGMENT_PATTERN.test(s)) || !Number.isInteger(dir.gid) || dir.gid <= 0) {
    return refuse(`'${dir.group}' (gid ${dir.gid}) is not a group path and gid`);
  }
  if (dir.containerPath !== `/shared/${dir.group}`) return refuse(`it must be mounted at /shared/${dir.group}, not ${dir.containerPath}`);
  let current = root;
  try {
    for (const [i, segment] of segments.entries()) {
      current = path.join(current, segment);
      const last = i === segments.length - 1;
      let stats = lstatOrUndefined(current);
      if (!stats) {
        mkdirSync(current, { mode: last ? 0o700 : 0o755 });
        if (last) {
          chownSync(current, 0, dir.gid);
          chmodSync(current, SHARED_MODE);
        }
        stats = lstatSync(current);
      }
      if (stats.isSymbolicLink() || !stats.isDirectory()) return refuse(`${current} exists and is not a directory (a link is never followed here)`);
      if (!last) continue;
      if (stats.uid !== 0 || stats.gid !== dir.gid) {
        return refuse(`${current} belongs to ${stats.uid}:${stats.gid}, not root:${dir.gid}; an admin sets its owner (chown root:${dir.gid}) after checking what it holds`);
      }
      if ((stats.mode & 0o7777) !== SHARED_MODE) chmodSync(current, SHARED_MODE);
    }
    // Nothing on the way was a link (each step was lstat'ed): the real path is the path.
    if (realpathSync(current) !== current) return refuse(`${current} resolves to ${realpathSync(current)}`);
  } catch (error) {
    return refuse(`cannot prepare ${current}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return { path: current };
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
