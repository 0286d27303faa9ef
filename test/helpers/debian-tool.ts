import { execFileSync, spawnSync } from 'node:child_process';

const which = (command: string): string | undefined => {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
};

/**
 * A command-line tool from a Debian package (`promtool` from `prometheus`), installed with apt-get
 * when it is missing and this is root on Debian, as the other test set-ups do. Undefined when it
 * cannot be had, with the reason: the caller skips its check and says so loudly.
 */
export function debianTool(command: string, pkg: string): { path: string } | { missing: string } {
  const present = which(command);
  if (present) return { path: present };
  if (process.getuid?.() !== 0 || !which('apt-get')) return { missing: `no ${command}, and no root with apt-get to install ${pkg}` };
  const install = () =>
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', pkg], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 300_000,
    });
  try {
    console.error(`[test] installing ${pkg} from Debian for ${command}`);
    try {
      install();
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 120_000 });
      install();
    }
  } catch (error) {
    return { missing: `apt-get install ${pkg} failed: ${String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim().slice(-300)}` };
  }
  const installed = which(command);
  return installed ? { path: installed } : { missing: `${pkg} installed but has no ${command}` };
}
