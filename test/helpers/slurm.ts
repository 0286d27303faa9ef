import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The single-node Slurm cluster `scripts/slurm-cluster.sh up` starts, as its printed
 * YARD_TEST_SLURM_* lines describe it (`npm test` exports them).
 */
export interface TestSlurm {
  /** slurmrestd, e.g. http://127.0.0.1:PORT */
  restUrl: string;
  /** The HS256 key slurmctld verifies JWTs with (root-only). */
  jwtKeyFile: string;
  partition: string;
  /** A partition capped at one CPU on the node: one job fills it, whatever else runs (Slurm's pending reasons). */
  smallPartition: string;
  /** slurm.conf, for squeue/scontrol/sbatch run by a test (never with SLURM_JWT set). */
  conf: string;
  node: string;
  /** A busybox root file system (tar) for `podman import`; unset when busybox is not installed. */
  imageTar?: string;
}

const ENV = {
  restUrl: 'YARD_TEST_SLURM_REST_URL',
  jwtKeyFile: 'YARD_TEST_SLURM_JWT_KEY_FILE',
  partition: 'YARD_TEST_SLURM_PARTITION',
  smallPartition: 'YARD_TEST_SLURM_SMALL_PARTITION',
  conf: 'YARD_TEST_SLURM_CONF',
  node: 'YARD_TEST_SLURM_NODE',
} as const;

/**
 * The test cluster, or undefined after saying loudly that the Slurm tests will not run (a test
 * file then registers one skipped test naming why). Needs root too: jobs run as throwaway users.
 */
export function testSlurm(what: string): TestSlurm | undefined {
  const missing = Object.values(ENV).filter((name) => !process.env[name]);
  const why =
    missing.length > 0
      ? `${missing.join(', ')} not set: run \`bash scripts/slurm-cluster.sh up\` and export the lines it prints (npm test does)`
      : process.getuid?.() !== 0
        ? 'not root: the Slurm tests make throwaway Unix users for their jobs'
        : undefined;
  if (why) {
    console.error(`\n!!! NO SLURM: ${what} are NOT running (${why}).\n`);
    return undefined;
  }
  const cluster = Object.fromEntries(Object.entries(ENV).map(([key, name]) => [key, process.env[name]!])) as unknown as TestSlurm;
  return process.env.YARD_TEST_SLURM_IMAGE_TAR ? { ...cluster, imageTar: process.env.YARD_TEST_SLURM_IMAGE_TAR } : cluster;
}

const AGENT_BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages', 'agent', 'bin', 'yard-agent.js');

/**
 * A Slurm pool of the test cluster as master.yaml says it (`pools.<name>`): its jobs start this
 * checkout's one-shot agent with this Node, and the pool reads Slurm every second.
 */
export function slurmPoolSettings(cluster: TestSlurm, jobDir: string, extra: Record<string, unknown> = {}) {
  return {
    manager: 'slurm' as const,
    rest_url: cluster.restUrl,
    jwt_key_file: cluster.jwtKeyFile,
    partition: cluster.partition,
    job_dir: jobDir,
    agent_command: [process.execPath, AGENT_BIN],
    poll_interval: '1s',
    ...extra,
  };
}

/**
 * podman's options for the test machine: its cgroups are hybrid (v1 controllers), which crun
 * refuses; runc with cgroupfs runs rootless without a systemd user session, as inside a Slurm job.
 */
export const TEST_PODMAN_ARGS = ['--runtime=runc', '--cgroup-manager=cgroupfs'];

/** Why rootless podman cannot be used here, or undefined when it can. */
export function podmanMissing(cluster: TestSlurm): string | undefined {
  if (!cluster.imageTar) return 'no busybox image (YARD_TEST_SLURM_IMAGE_TAR): busybox-static is missing';
  try {
    execFileSync('podman', ['--version'], { stdio: 'ignore' });
    execFileSync('newuidmap', ['--help'], { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'podman or newuidmap (uidmap) is not installed';
  }
  return undefined;
}

/** Imports an image into `user`'s own rootless podman storage, as that user (what an admin or the user does on a node). */
export function importImage(user: UnixUser, tar: string, name: string): void {
  execFileSync('runuser', ['-u', user.name, '--', 'env', `HOME=${user.home}`, 'podman', ...TEST_PODMAN_ARGS, 'import', '--quiet', tar, name], {
    cwd: user.home,
    stdio: 'pipe',
    timeout: 120_000,
  });
}

/** A command of Slurm's (squeue, scontrol, sbatch) against the test cluster, as root; its stdout. */
export function slurmCommand(slurm: TestSlurm, command: string, args: string[]): string {
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: slurm.conf };
  // Slurm's commands fail when SLURM_JWT is set (deps.md): only slurmrestd may have it.
  delete env.SLURM_JWT;
  return execFileSync(command, args, { env, encoding: 'utf8', timeout: 30_000 });
}

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * Throwaway Unix users for run-as identities (useradd, as root), each with a unique name, a uid
 * no account has, a group of its own with gid = uid, and a home in a temp dir. `removeAll` (call
 * it in `test.after.always`) deletes them; so does this process's exit, should a test file die first.
 */
export class UnixUsers {
  private readonly made: UnixUser[] = [];
  private readonly homes = mkdtempSync(path.join(os.tmpdir(), 'yard-homes-'));
  private readonly onExit = () => this.removeAll();

  constructor(private readonly prefix = 'yt') {
    // The users must reach their homes in it (mkdtemp makes it 0700).
    chmodSync(this.homes, 0o755);
    process.on('exit', this.onExit);
  }

  create(): UnixUser {
    // Names as Trainyard and Slurm accept them: short, lower case, unique per process and call.
    const name = `${this.prefix}${process.pid.toString(36)}${this.made.length}${Math.random().toString(36).slice(2, 5)}`.slice(0, 30);
    const uid = freeUid();
    const home = path.join(this.homes, name);
    retrying(() => execFileSync('groupadd', ['-g', String(uid), name], { stdio: 'pipe' }));
    try {
      retrying(() => execFileSync('useradd', ['-u', String(uid), '-g', String(uid), '-m', '-d', home, '-s', '/bin/sh', name], { stdio: 'pipe' }));
    } catch (error) {
      retrying(() => execFileSync('groupdel', [name], { stdio: 'pipe' }));
      throw error;
    }
    const user = { name, uid, gid: uid, home };
    this.made.push(user);
    return user;
  }

  /** Removes every user made here (their processes first, then the account, group and home). */
  removeAll(): void {
    for (const user of this.made.splice(0)) {
      try {
        execFileSync('pkill', ['-KILL', '-u', String(user.uid)], { stdio: 'ignore' });
      } catch {
        // None left: pkill exits 1.
      }
      // Rootless podman's state outside the home, when there is no XDG_RUNTIME_DIR (as in Slurm jobs).
      for (const dir of [`podman-run-${user.uid}`, `containers-user-${user.uid}`, `run-${user.uid}`]) rmSync(path.join(os.tmpdir(), dir), { recursive: true, force: true });
      try {
        retrying(() => execFileSync('userdel', ['-r', '-f', user.name], { stdio: 'pipe' }));
      } catch (error) {
        console.error(`could not remove the test user ${user.name}: ${(error as Error).message}`);
      }
      try {
        execFileSync('groupdel', [user.name], { stdio: 'ignore' });
      } catch {
        // userdel removed it with the user.
      }
    }
    rmSync(this.homes, { recursive: true, force: true });
    process.off('exit', this.onExit);
  }
}

/**
 * A uid in 50000-59999 that no account or group has yet: below UID_MAX, so that useradd gives the
 * user subordinate ids (/etc/subuid) for rootless podman.
 */
function freeUid(): number {
  const taken = new Set<number>();
  for (const file of ['/etc/passwd', '/etc/group']) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const id = Number(line.split(':')[2]);
      if (Number.isInteger(id)) taken.add(id);
    }
  }
  for (;;) {
    const uid = 50_000 + Math.floor(Math.random() * 10_000);
    if (!taken.has(uid)) return uid;
  }
}

/** useradd and friends fail while another process holds /etc/passwd's lock: try again a few times. */
function retrying<T>(call: () => T): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return call();
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr ?? '');
      if (attempt >= 20 || !/lock|try again/i.test(stderr)) throw new Error(`${(error as Error).message}: ${stderr.trim()}`);
      execFileSync('sleep', ['0.2']);
    }
  }
}
