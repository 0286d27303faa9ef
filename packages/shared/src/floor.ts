/**
 * The floor: what no policy, config or master can lift. Pure code over a run spec, checked by
 * the master when it admits a task and again by the agent before it creates anything (with its
 * own context, and on the real paths it finds), so that a buggy or compromised master cannot
 * make an agent expose the machine.
 */

/** Container engine sockets: mounting one (or a directory above it) is root on the machine. */
export const ENGINE_SOCKETS = [
  '/var/run/docker.sock',
  '/run/docker.sock',
  '/var/run/podman/podman.sock',
  '/run/podman/podman.sock',
  '/var/run/containerd/containerd.sock',
  '/run/containerd/containerd.sock',
  '/var/run/crio/crio.sock',
  '/run/crio/crio.sock',
] as const;

/** Container engines' own state: images, layers and every container's files. */
export const ENGINE_STATE = ['/var/lib/docker', '/var/lib/containerd', '/var/lib/containers'] as const;

/** Kernel and boot file systems: never mounted, from either side. */
export const SYSTEM_PATHS = ['/proc', '/sys', '/dev', '/boot'] as const;

/** What the agent provides in every container; a task mount must not cover them. */
export const IDENTITY_FILES = ['/etc/passwd', '/etc/group'] as const;

export const FLOOR_RULES = [
  'floor.host_root',
  'floor.system_path',
  'floor.engine_socket',
  'floor.engine_state',
  'floor.agent_state',
  'floor.shared_root',
  'floor.allowed_root',
  'floor.identity_files',
  'floor.capability',
  'floor.privileged',
  'floor.no_new_privileges',
  'floor.host_namespace',
  'floor.device',
] as const;
export type FloorRule = (typeof FLOOR_RULES)[number];

/** Every Linux capability by its name without `CAP_` (capabilities(7)); a spec naming anything else breaks the floor. */
export const LINUX_CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/**
 * Capabilities no policy can hand out, because each is a known way out of a container or onto the
 * machine as a whole: SYS_ADMIN (mount, namespaces: the classic escape), SYS_MODULE (kernel modules),
 * SYS_RAWIO (raw I/O ports and memory), SYS_PTRACE (other processes' memory), SYS_BOOT (reboot),
 * SYS_TIME (the machine's clock), SYS_PACCT, SYSLOG (the kernel's log and addresses), DAC_READ_SEARCH
 * (open_by_handle_at: the "shocker" escape through any file handle), MAC_ADMIN and MAC_OVERRIDE
 * (AppArmor/SELinux), BPF and PERFMON (kernel programs and tracing), NET_ADMIN (network devices,
 * routes, firewall), LINUX_IMMUTABLE, AUDIT_CONTROL and AUDIT_READ (the machine's audit), SETFCAP and
 * SETPCAP (capabilities of files and other processes), MKNOD (device nodes), CHECKPOINT_RESTORE,
 * WAKE_ALARM and BLOCK_SUSPEND (the machine's power state), and ALL. What remains (NET_BIND_SERVICE,
 * CHOWN, FOWNER, KILL, NET_RAW, SYS_NICE, IPC_LOCK...) acts inside the task's own container.
 */
export const ESCAPE_CAPABILITIES = [
  'ALL', 'SYS_ADMIN', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_PTRACE', 'SYS_BOOT', 'SYS_TIME', 'SYS_PACCT', 'SYSLOG',
  'DAC_READ_SEARCH', 'MAC_ADMIN', 'MAC_OVERRIDE', 'BPF', 'PERFMON', 'NET_ADMIN', 'LINUX_IMMUTABLE',
  'AUDIT_CONTROL', 'AUDIT_READ', 'SETFCAP', 'SETPCAP', 'MKNOD', 'CHECKPOINT_RESTORE', 'WAKE_ALARM', 'BLOCK_SUSPEND',
] as const;

/** `cap_net_bind_service`, `CAP_NET_BIND_SERVICE` -> `NET_BIND_SERVICE`: the spelling specs and policies use. */
export const normalizeCapability = (name: string): string => name.trim().toUpperCase().replace(/^CAP_/, '');

/** Why the floor refuses a capability, or undefined when a policy may admit it. */
export function capabilityViolation(name: string): FloorViolation | undefined {
  const cap = normalizeCapability(name);
  if ((ESCAPE_CAPABILITIES as readonly string[]).includes(cap)) {
    return {
      rule: 'floor.capability',
      message: `capability ${cap} refused by floor.capability: it reaches beyond the task's container; no policy can allow it`,
    };
  }
  if (!(LINUX_CAPABILITIES as readonly string[]).includes(cap)) {
    return { rule: 'floor.capability', message: `capability ${name} refused by floor.capability: not a Linux capability` };
  }
  return undefined;
}

/** How a container is confined. Every spec carries it; the floor allows only `FLOOR_CONFINEMENT` plus admitted capabilities. */
export interface Confinement {
  /** Capabilities added back after dropping all of them: only ones the policy admitted, never `ESCAPE_CAPABILITIES`. */
  capabilities: string[];
  privileged: boolean;
  noNewPrivileges: boolean;
  /** Host namespaces shared with the task: network, pid, ipc, uts, user, cgroup. */
  hostNamespaces: string[];
  /** Host devices handed to the task (GPUs go through resources.gpus instead). */
  devices: string[];
}

export const FLOOR_CONFINEMENT: Readonly<Confinement> = Object.freeze({
  capabilities: [],
  privileged: false,
  noNewPrivileges: true,
  hostNamespaces: [],
  devices: [],
});

export interface FloorMount {
  hostPath: string;
  containerPath: string;
  /** The directory the mount was admitted under: the host path must lie in it. */
  allowedRoot?: string;
}

/** What the floor looks at: a run spec, or the part of one the master is admitting. */
export interface FloorSubject {
  bindMounts: readonly FloorMount[];
  confinement?: Confinement;
  /** The GPUs the task is given; on an agent, never more than it has. */
  resources?: { gpus: number };
}

/** Where the check runs: the engine socket it knows of, the agent's own directories and GPUs. */
export interface FloorContext {
  engineSockets?: readonly string[];
  /** The agent's state and work directories (their real paths too, where they differ). */
  agentDirs?: readonly string[];
  /**
   * The agent's `--shared-root` (groups' shared directories): no task mount may reach it; the
   * shared directories come only through admission (`RunSpec.sharedDirs`).
   */
  sharedRoots?: readonly string[];
  /** How many GPUs the machine has (the agent knows; the master does not check). */
  gpuCount?: number;
}

export interface FloorViolation {
  rule: FloorRule;
  message: string;
}

/**
 * A path as the kernel would walk it, without touching the file system: `//` and `.` dropped,
 * `..` applied, no trailing `/`. Relative paths are not paths here: undefined.
 */
export function normalizePath(input: string): string | undefined {
  if (!input.startsWith('/') || input.includes('\0')) return undefined;
  const parts: string[] = [];
  for (const part of input.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** `inner` is `outer` or lies beneath it (both normalised). */
export function isWithin(inner: string, outer: string): boolean {
  return outer === '/' || inner === outer || inner.startsWith(`${outer}/`);
}

/** Either path holds the other: mounting one exposes the other. */
const overlaps = (a: string, b: string) => isWithin(a, b) || isWithin(b, a);

/** Every way `spec` breaks the floor (empty: it may run). */
export function checkFloor(spec: FloorSubject, context: FloorContext = {}): FloorViolation[] {
  const violations: FloorViolation[] = [];
  for (const mount of spec.bindMounts) {
    const host = hostPathViolation(mount.hostPath, context);
    if (host) violations.push(host);
    if (!host && mount.allowedRoot !== undefined) {
      const path = normalizePath(mount.hostPath)!;
      const root = normalizePath(mount.allowedRoot);
      if (root === undefined || !isWithin(path, root)) {
        violations.push({
          rule: 'floor.allowed_root',
          message: `mount of ${mount.hostPath} refused by floor.allowed_root: it lies outside ${mount.allowedRoot}, the directory it was admitted under`,
        });
      }
    }
    const container = containerPathViolation(mount.containerPath);
    if (container) violations.push(container);
  }
  if (spec.confinement) violations.push(...confinementViolations(spec.confinement));
  const gpus = spec.resources?.gpus ?? 0;
  if (context.gpuCount !== undefined && gpus > context.gpuCount) {
    violations.push({
      rule: 'floor.device',
      message: `${gpus} GPUs refused by floor.device: this machine has ${context.gpuCount}; a task gets only the GPUs it was given`,
    });
  }
  return violations;
}

/** Why a host path may never be mounted, or undefined. Used on requested and on real paths alike. */
export function hostPathViolation(hostPath: string, context: FloorContext = {}): FloorViolation | undefined {
  const path = normalizePath(hostPath);
  const refused = (rule: FloorRule, why: string): FloorViolation => ({
    rule,
    message: `mount of ${hostPath} refused by ${rule}: ${why}; no policy can allow this`,
  });
  if (path === undefined) return refused('floor.host_root', 'a host path must be absolute');
  if (path === '/') return refused('floor.host_root', "the host's root directory is never mounted");
  const system = SYSTEM_PATHS.find((p) => isWithin(path, p));
  if (system) return refused('floor.system_path', `${SYSTEM_PATHS.join(', ')} are never mounted`);
  const sockets = [...ENGINE_SOCKETS, ...(context.engineSockets ?? [])].map((s) => normalizePath(s)).filter((s) => s !== undefined);
  const socket = sockets.find((s) => isWithin(s, path));
  if (socket) return refused('floor.engine_socket', `it is or holds the container engine's socket ${socket}, which is root on the machine`);
  const state = ENGINE_STATE.find((p) => overlaps(path, p));
  if (state) return refused('floor.engine_state', `it is, holds or lies in the container engine's state ${state}`);
  const agentDirs = (context.agentDirs ?? []).map((d) => normalizePath(d)).filter((d) => d !== undefined);
  const agentDir = agentDirs.find((d) => overlaps(path, d));
  if (agentDir) return refused('floor.agent_state', `it is, holds or lies in the agent's own directory ${agentDir}`);
  const sharedRoots = (context.sharedRoots ?? []).map((d) => normalizePath(d)).filter((d) => d !== undefined);
  const sharedRoot = sharedRoots.find((d) => overlaps(path, d));
  if (sharedRoot) {
    return refused('floor.shared_root', `it is, holds or lies in the groups' shared directories ${sharedRoot}, which members get only through their groups (yard group set --shared-dir on)`);
  }
  return undefined;
}

/** Why a task may not mount something at this place in its container, or undefined. */
export function containerPathViolation(containerPath: string): FloorViolation | undefined {
  const path = normalizePath(containerPath);
  if (path === undefined || IDENTITY_FILES.some((f) => isWithin(f, path))) {
    return {
      rule: 'floor.identity_files',
      message:
        `mount at ${containerPath} refused by floor.identity_files: it would cover ${IDENTITY_FILES.join(' and ')}, ` +
        'which the agent provides read-only; mount it elsewhere (such as /data)',
    };
  }
  const system = SYSTEM_PATHS.find((p) => isWithin(path, p));
  if (system) {
    return {
      rule: 'floor.system_path',
      message: `mount at ${containerPath} refused by floor.system_path: ${system} in the container belongs to the runtime`,
    };
  }
  return undefined;
}

function confinementViolations(c: Confinement): FloorViolation[] {
  const violations: FloorViolation[] = [];
  if (c.privileged) violations.push({ rule: 'floor.privileged', message: 'privileged mode refused by floor.privileged: tasks never run privileged' });
  if (!c.noNewPrivileges) {
    violations.push({ rule: 'floor.no_new_privileges', message: 'refused by floor.no_new_privileges: every task runs with no-new-privileges' });
  }
  for (const cap of c.capabilities) {
    const violation = capabilityViolation(cap);
    if (violation) violations.push(violation);
  }
  if (c.hostNamespaces.length > 0) {
    violations.push({
      rule: 'floor.host_namespace',
      message: `host namespaces ${c.hostNamespaces.join(', ')} refused by floor.host_namespace: tasks get their own`,
    });
  }
  if (c.devices.length > 0) {
    violations.push({ rule: 'floor.device', message: `devices ${c.devices.join(', ')} refused by floor.device: no host devices (GPUs come through resources.gpus)` });
  }
  return violations;
}
