import { statSync } from 'node:fs';
import os from 'node:os';
import type { RunIdentity } from '@trainyard/shared';

/**
 * Why a one-shot agent must not run this task: it is not the task's uid and gid (the job ran as
 * someone else). It never changes identity, so it runs nothing as anyone else.
 */
export function notItself(runAs: RunIdentity): string | undefined {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid === runAs.uid && gid === runAs.gid) return undefined;
  return `the one-shot agent runs as uid ${uid} gid ${gid}, but the task must run as uid ${runAs.uid} (${runAs.user}) gid ${runAs.gid} (${runAs.group}); it runs nothing as anyone else (was the job submitted for another user?)`;
}

/** The running user's home from the node's passwd, when it is a directory. */
export function ownHome(): string | undefined {
  try {
    const home = os.userInfo().homedir;
    return home && statSync(home).isDirectory() ? home : undefined;
  } catch {
    return undefined;
  }
}
