import { lstat, realpath } from 'node:fs/promises';
import { checkFloor, normalizePath, type FloorContext, type RunBindMount, type TaskRunSpec } from '@trainyard/shared';
import { sharedDirMounts } from './shared-dirs.js';

export type Guarded = { ok: true; spec: TaskRunSpec } | { ok: false; message: string };

/**
 * The agent's own check of a spec before it creates anything, whatever the master said: the
 * floor on the spec as received, then on its real paths (symlinks followed), each of which must
 * exist (a missing host path is never created) and stay in the directory it was admitted under.
 * The spec it returns mounts the real paths it checked, and then the groups' shared directories
 * (`sharedDirs`, under `sharedRoot`, the real path of --shared-root), which no task mount may reach.
 */
export async function guardSpec(spec: TaskRunSpec, context: FloorContext, sharedRoot?: string): Promise<Guarded> {
  const refuse = (message: string): Guarded => ({ ok: false, message: `refused by the agent before anything started: ${message}` });
  const asReceived = checkFloor(spec, context);
  if (asReceived.length > 0) return refuse(asReceived.map((v) => v.message).join('; '));

  const resolved: RunBindMount[] = [];
  for (const mount of spec.bindMounts) {
    try {
      await lstat(mount.hostPath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        return refuse(`host path ${mount.hostPath} does not exist on this machine; a task never creates one (create it first)`);
      }
      return refuse(`cannot read host path ${mount.hostPath}: ${code ?? (error as Error).message}`);
    }
    const real = await realpath(mount.hostPath);
    // The admitted directory may itself be a link (/scratch -> /mnt/scratch): compare real with real.
    const realRoot = await realpath(mount.allowedRoot).catch(() => normalizePath(mount.allowedRoot) ?? mount.allowedRoot);
    resolved.push({ ...mount, hostPath: real, allowedRoot: realRoot });
  }
  const realSpec = { ...spec, bindMounts: resolved };
  const asResolved = checkFloor(realSpec, context);
  if (asResolved.length > 0) {
    const described = asResolved.map((v) => v.message);
    const links = spec.bindMounts
      .map((m, i) => (m.hostPath === resolved[i]!.hostPath ? undefined : `${m.hostPath} is ${resolved[i]!.hostPath}`))
      .filter(Boolean);
    return refuse(`${links.length > 0 ? `${links.join(', ')} on this machine: ` : ''}${described.join('; ')}`);
  }
  const shared = sharedDirMounts(sharedRoot, spec.sharedDirs ?? []);
  if ('refused' in shared) return refuse(shared.refused);
  return { ok: true, spec: { ...realSpec, bindMounts: [...resolved, ...shared.mounts] } };
}
