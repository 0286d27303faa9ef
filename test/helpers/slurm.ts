import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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
  return Object.fromEntries(Object.entries(ENV).map(([key, name]) => [key, process.env[name]!])) as unknown as TestSlurm;
}

/** A command of Slurm's (squeue, scontrol, sbatch) against the test cluster, as root; its stdout. */
export function slurmCommand(slurm: TestSlurm, command: string, args: string[]): string {
  const env = { ...process.env, SLURM_CONF: slurm.conf };
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

/** A uid in 61000-64999 (above Debian's dynamic ranges' usual use) that no account or group has yet. */
function freeUid(): number {
  const taken = new Set<number>();
  for (const file of ['/etc/passwd', '/etc/group']) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const id = Number(line.split(':')[2]);
      if (Number.isInteger(id)) taken.add(id);
    }
  }
  for (;;) {
    const uid = 61_000 + Math.floor(Math.random() * 4000);
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
