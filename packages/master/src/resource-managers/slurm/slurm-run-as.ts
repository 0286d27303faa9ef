import { execFile } from 'node:child_process';
import type { RunIdentity, RunSpec } from '@trainyard/shared';
import { policyDenied } from '../../errors.js';
import type { SlurmJob } from './slurmrestd-client.js';

/** A passwd entry as the nodes see it. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Who the pool's nodes know: looked up by name. */
export interface NodeUsers {
  byName(name: string): Promise<PasswdEntry | undefined>;
}

/**
 * How the master learns what the nodes know (slurmrestd does not say, and Slurm accepts a job for
 * an unknown name, runs it as uid 99 and loops it PENDING):
 * - `shared` (the default, and the usual HPC set-up): the master's host shares the nodes' user
 *   database (LDAP/SSSD/NIS, or the same files), so `getent passwd` here answers for them; the
 *   check runs before anything is submitted.
 * - `verify`: the master cannot see it; the job is submitted held, the uid and gid Slurm resolved
 *   for the name are compared with the task's, and only then is it released (else cancelled).
 * A probe job was rejected: it waits in the queue like any job (hours, on a busy cluster) and
 * costs an allocation per task. In both cases the one-shot agent in the job checks its own uid
 * and gid once more before it runs anything.
 */
export type SlurmUserCheck = 'shared' | 'verify';

const layer = (pool: string) => `pool:${pool}`;

/**
 * Refusals that need no lookup: a Slurm pool never runs a task as root (whatever the policy's
 * require_non_root says), and without a container (`container: none`) the task sees the node's
 * own file system, so a bind mount can only be its own host path.
 */
export function checkSlurmSpec(spec: Pick<RunSpec, 'runAs' | 'bindMounts'>, pool: { name: string; container: 'none' | 'runc' | 'podman' }): void {
  const { runAs } = spec;
  if (runAs.uid === 0 || runAs.user === 'root') {
    throw policyDenied(
      `task refused by slurm.run_as_root: it would run as ${runAs.user} (uid ${runAs.uid}) on the Slurm pool '${pool.name}', and Slurm pools never run tasks as root; ` +
        "an admin links the owner to their own account on the cluster (yard user link-with-agent-user), or the task runs in a group with a uid range",
      'slurm.run_as_root',
      layer(pool.name),
    );
  }
  if (pool.container === 'none') {
    const moved = spec.bindMounts.find((m) => m.hostPath !== m.containerPath);
    if (moved) {
      throw policyDenied(
        `task refused by slurm.mount_paths: the Slurm pool '${pool.name}' runs tasks directly on its nodes (container: none), so ${moved.hostPath} cannot appear at ${moved.containerPath}; mount it at its own path`,
        'slurm.mount_paths',
        layer(pool.name),
      );
    }
  }
}

/**
 * `users: shared`: the resolved user exists on the nodes with the resolved uid, and the resolved gid
 * is that user's primary group there (a job submitted through slurmrestd runs with its user's
 * primary group: the API has no field to choose another).
 */
export async function checkSlurmUser(runAs: RunIdentity, pool: { name: string }, users: NodeUsers): Promise<PasswdEntry> {
  const entry = await users.byName(runAs.user);
  if (!entry) {
    throw policyDenied(
      `task refused by slurm.user_unknown: user '${runAs.user}' (uid ${runAs.uid}) is not known on the nodes of the Slurm pool '${pool.name}' ` +
        "(Slurm would accept the job and leave it pending forever); an admin creates the account on the cluster or links the owner to an account it has",
      'slurm.user_unknown',
      layer(pool.name),
    );
  }
  if (entry.uid !== runAs.uid) {
    throw policyDenied(
      `task refused by slurm.user_unknown: user '${runAs.user}' is uid ${entry.uid} on the nodes of the Slurm pool '${pool.name}', but the task would run as uid ${runAs.uid}; ` +
        'an admin fixes the agent-user link so that name and uid agree with the cluster',
      'slurm.user_unknown',
      layer(pool.name),
    );
  }
  if (entry.gid !== runAs.gid) {
    throw policyDenied(
      `task refused by slurm.primary_group: a Slurm job runs with its user's primary group, and '${runAs.user}' has gid ${entry.gid} on the nodes of the Slurm pool '${pool.name}', ` +
        `but the task would run as gid ${runAs.gid} (${runAs.group}); an admin links the owner with gid ${entry.gid}, or the task runs in another pool`,
      'slurm.primary_group',
      layer(pool.name),
    );
  }
  return entry;
}

/**
 * `users: verify`, after a held submission (and a safety net for `shared`): the uid and gid Slurm
 * gave the job are the task's. The message says what differs; undefined when all agree.
 */
export function slurmJobIdentityMismatch(job: Pick<SlurmJob, 'user' | 'gid'>, runAs: RunIdentity): string | undefined {
  if (job.user.name === null) return `Slurm does not know the user '${runAs.user}' (it gave the job uid ${job.user.uid})`;
  if (job.user.uid !== runAs.uid) return `Slurm runs the job as uid ${job.user.uid} (${job.user.name}), not the task's uid ${runAs.uid} (${runAs.user})`;
  if (job.gid !== runAs.gid) return `Slurm runs the job with gid ${job.gid}, the primary group of '${job.user.name}', not the task's gid ${runAs.gid} (${runAs.group})`;
  return undefined;
}

/** How long a user `getent` found is taken as known without asking again: admission and the submission just after it ask for the same user. */
const GETENT_TTL_MS = 5000;

/**
 * `getent passwd NAME` on the master's host: the nodes' users, when the pool shares its user
 * database (`users: shared`). A user found is remembered for a few seconds (one process per
 * lookup is most of a placement's cost when many tasks arrive at once); one not found is asked
 * again each time, so an account just made is seen at once. The one-shot agent checks its own
 * uid and gid in the job anyway.
 */
export function getentUsers(clock: { now(): number } = Date): NodeUsers {
  const found = new Map<string, { at: number; entry: Promise<PasswdEntry | undefined> }>();
  const lookUp = (name: string) =>
    new Promise<PasswdEntry | undefined>((resolve, reject) => {
      execFile('getent', ['passwd', name], { timeout: 10_000 }, (error, stdout) => {
        // getent: 2 is "no such key"; anything else is a lookup that failed.
        if (error && (error as { code?: unknown }).code === 2) return resolve(undefined);
        if (error) return reject(new Error(`getent passwd ${name} failed: ${error.message}`));
        const [entryName, , uid, gid, , home] = stdout.trim().split('\n')[0]!.split(':');
        resolve(entryName === name ? { name, uid: Number(uid), gid: Number(gid), home: home ?? '' } : undefined);
      });
    });
  return {
    byName: (name) => {
      const now = clock.now();
      const cached = found.get(name);
      if (cached && now - cached.at < GETENT_TTL_MS) return cached.entry;
      const entry = lookUp(name);
      found.set(name, { at: now, entry });
      // Only a user found is kept (and a lookup still running, which others share); a miss or a failure is forgotten.
      void entry.then(
        (user) => {
          if (!user && found.get(name)?.entry === entry) found.delete(name);
        },
        () => {
          if (found.get(name)?.entry === entry) found.delete(name);
        },
      );
      if (found.size > 10_000) for (const [key, value] of found) if (now - value.at >= GETENT_TTL_MS) found.delete(key);
      return entry;
    },
  };
}
