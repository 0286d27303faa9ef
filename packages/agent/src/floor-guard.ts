import { checkFloor, normalizePath, type FloorContext, type RunBindMount, type TaskRunSpec } from '@trainyard/shared';
import { describeProbe, type ProbeResult } from './mount-probe.js';
import { sharedDirMounts } from './shared-dirs.js';

/** Stats host paths where a hung one cannot block the agent (`probePaths`, a child process), with the time each has. */
export interface PathProbe {
  timeoutMs: number;
  probe(paths: readonly string[]): Promise<Map<string, ProbeResult>>;
}

export type Guarded = { ok: true; spec: TaskRunSpec } | { ok: false; message: string };

/**
 * The agent's own check of a spec before it creates anything, whatever the master said: the
 * floor on the spec as received, then on its real paths (symlinks followed), each of which must
 * exist (a missing host path is never created) and stay in the directory it was admitted under.
 * Every host path is stat'ed first by `probe`, in a child process with a timeout, so that an
 * automount comes up and a hung mount fails the task, naming the path, instead of hanging the
 * engine (or the agent). The spec it returns mounts the real paths it checked, and then the groups'
 * shared directories (`sharedDirs`, under `sharedRoot`, the real path of --shared-root), which no
 * task mount may reach.
 */
export async function guardSpec(spec: TaskRunSpec, context: FloorContext, sharedRoot: string | undefined, probe: PathProbe): Promise<Guarded> {
  const refuse = (message: string): Guarded => ({ ok: false, message: `refused by the agent before anything started: ${message}` });
  const asReceived = checkFloor(spec, context);
  if (asReceived.length > 0) return refuse(asReceived.map((v) => v.message).join('; '));

  const usesShared = (spec.sharedDirs ?? []).length > 0 && sharedRoot !== undefined;
  const probed = await probe.probe([
    ...spec.bindMounts.flatMap((m) => [m.hostPath, m.allowedRoot]),
    ...(usesShared ? [sharedRoot!] : []),
  ]);
  const resolved: RunBindMount[] = [];
  for (const mount of spec.bindMounts) {
    const problem = describeProbe(mount.hostPath, probed.get(mount.hostPath), probe.timeoutMs);
    if (problem) return refuse(problem);
    const real = (probed.get(mount.hostPath) as { real: string }).real;
    // The admitted directory may itself be a link (/scratch -> /mnt/scratch): compare real with real.
    const root = probed.get(mount.allowedRoot);
    if (root && !root.ok && 'hung' in root) return refuse(describeProbe(mount.allowedRoot, root, probe.timeoutMs)!);
    const realRoot = root?.ok ? root.real : (normalizePath(mount.allowedRoot) ?? mount.allowedRoot);
    resolved.push({ ...mount, hostPath: real, allowedRoot: realRoot });
  }
  if (usesShared) {
    const problem = describeProbe(sharedRoot!, probed.get(sharedRoot!), probe.timeoutMs);
    if (problem) return refuse(`the shared root: ${problem}`);
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
