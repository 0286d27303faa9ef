import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { AGENT_STATES, TASK_KINDS, TASK_STATES, type ErrorBody, type TaskKind, type TaskState } from '@trainyard/shared';
import type { Clock } from '../clock.js';
import type { TaskEvent } from '../tasks/task-state-machine.js';
import { MASTER_VERSION } from '../http/master-version.js';

/** What the store holds right now, read once per scrape (the domains' services answer it). */
export interface StoreSnapshot {
  tasks: Array<{ state: TaskState; kind: TaskKind; count: number }>;
  /** The oldest queued task's creation or return to the queue (ms), or null when none waits. */
  oldestQueuedAt: number | null;
  agents: Array<{ status: AgentStatus; count: number; cpus: number; memoryBytes: number; gpus: number }>;
}

/** An agent as operators count them: taking work, registered but disabled by an admin, or silent. */
export type AgentStatus = 'alive' | 'disabled' | 'lost';
export const AGENT_STATUSES: readonly AgentStatus[] = ['alive', 'disabled', 'lost'];

/** The outcomes of `POST /auth/login` that metrics tell apart (a fixed set: bounded labels). */
const LOGIN_OUTCOMES: Partial<Record<string, string>> = {
  INVALID_CREDENTIALS: 'failed',
  TOO_MANY_REQUESTS: 'throttled',
  AUTH_BACKEND_UNAVAILABLE: 'backend_unavailable',
};

// Long polls (agents' work, `logs -f`, waits) hold requests up to a minute: buckets reach past it.
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
// Tasks wait in the queue from a moment to days.
const WAIT_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600];
const DECISION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** One process-wide registry of Node's own metrics (CPU, memory, event loop, GC), however many masters a test process runs. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * The master's Prometheus metrics. Counters and histograms are kept by the events that move them
 * (task transitions, scheduling decisions, answered requests); gauges of what the store holds
 * (tasks by state, the queue, agents and their capacity) are read from it at each scrape, so they
 * are right after a restart and cost nothing between scrapes. Every label has a bounded set of
 * values: a route's pattern, never its path; a rule's name, never a user's.
 */
export class MasterMetrics {
  readonly registry = new Registry();

  private readonly tasks = this.gauge('trainyard_tasks', 'Tasks in the store, by state and kind', ['state', 'kind']);
  private readonly leader = this.gauge('trainyard_leader', 'Whether this master leads (1) or stands by (0); one master always leads: alert when the sum over the masters is not 1');
  private readonly queueLength = this.gauge('trainyard_queue_length', 'Tasks waiting in the queue (QUEUED)');
  private readonly queueOldest = this.gauge('trainyard_queue_oldest_wait_seconds', 'How long the longest-waiting queued task has waited (0 when none waits)');
  private readonly transitions = new Counter({
    name: 'trainyard_task_transitions_total',
    help: 'Tasks entering each state (QUEUED: created or queued again), by kind',
    labelNames: ['state', 'kind'],
    registers: [this.registry],
  });
  private readonly queueWait = new Histogram({
    name: 'trainyard_task_queue_wait_seconds',
    help: 'How long a task waited in the queue before the scheduler gave it to an agent',
    labelNames: ['kind'],
    buckets: WAIT_BUCKETS,
    registers: [this.registry],
  });
  private readonly startLatency = new Histogram({
    name: 'trainyard_task_start_seconds',
    help: 'From assignment to an agent until the task runs (acknowledgement, image pull, start)',
    labelNames: ['kind'],
    buckets: WAIT_BUCKETS,
    registers: [this.registry],
  });
  private readonly decisions = new Histogram({
    name: 'trainyard_dispatch_decision_seconds',
    help: "The scheduler's decision for a polling agent (queue read, quotas, fit, assignment), by outcome",
    labelNames: ['outcome'],
    buckets: DECISION_BUCKETS,
    registers: [this.registry],
  });
  // The same decisions as quantiles over the last ten minutes: buckets are too coarse for a tail
  // (`pnpm bench` P8 reads its p99). A summary's quantiles (t-digest) cannot be aggregated across masters; only the leader decides.
  private readonly recentDecisions = new Summary({
    name: 'trainyard_dispatch_decision_seconds_recent',
    help: "The scheduler's decision for a polling agent, every outcome: quantiles over the last 10 minutes (count and sum since the start)",
    percentiles: [0.5, 0.9, 0.99, 0.999, 1],
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers: [this.registry],
  });
  private readonly agents = this.gauge('trainyard_agents', 'Registered agents: alive (taking work), disabled (by an admin) or lost (silent)', ['status']);
  private readonly agentCpus = this.gauge('trainyard_agent_cpus', 'CPUs the agents report, by agent status', ['status']);
  private readonly agentMemory = this.gauge('trainyard_agent_memory_bytes', 'Memory the agents report, by agent status', ['status']);
  private readonly agentGpus = this.gauge('trainyard_agent_gpus', 'GPUs the agents report, by agent status', ['status']);
  private readonly requests = new Histogram({
    name: 'trainyard_http_request_duration_seconds',
    help: "Requests answered, by method, route pattern (`other` for paths no route matched, the web UI's files included) and status",
    labelNames: ['method', 'route', 'status'],
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  private readonly logins = new Counter({
    name: 'trainyard_logins_total',
    help: 'Password logins by outcome: ok, failed (wrong name or password), throttled, backend_unavailable, refused (anything else)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly admissionRefusals = new Counter({
    name: 'trainyard_admission_refusals_total',
    help: 'Tasks the admission policy or the floor refused at creation, by rule and the kind of layer it sits in (system, group, user, floor)',
    labelNames: ['rule', 'layer'],
    registers: [this.registry],
  });
  private readonly quotaRefusals = new Counter({
    name: 'trainyard_quota_refusals_total',
    help: 'Tasks a quota refused at creation (max_submitted, deny_on_limit), by quota and resource',
    labelNames: ['quota', 'resource'],
    registers: [this.registry],
  });

  constructor(
    private readonly deps: {
      clock: Clock;
      /** What the store holds now (asked of the tasks and agents services at each scrape). */
      readStore: () => Promise<StoreSnapshot>;
      /** Whether this master leads now (several masters, `ha`; one master always does). */
      leading?: () => boolean;
    },
  ) {
    this.gauge('trainyard_build_info', "The master's release and API version (always 1)", ['version', 'api_version'])
      .labels(MASTER_VERSION.version, String(MASTER_VERSION.apiVersion))
      .set(1);
    // Every series exists from the start (at 0), so that rates and absent() behave on a new master.
    for (const kind of TASK_KINDS) {
      for (const state of TASK_STATES) this.transitions.labels(state, kind).inc(0);
      this.queueWait.zero({ kind });
      this.startLatency.zero({ kind });
    }
    for (const outcome of ['assigned', 'none']) this.decisions.zero({ outcome });
    for (const outcome of ['ok', 'failed', 'throttled', 'backend_unavailable', 'refused']) this.logins.labels(outcome).inc(0);
  }

  /** The exposition text: the store read now, then every metric (the process's own included). */
  async scrape(): Promise<{ contentType: string; text: string }> {
    this.setStore(await this.deps.readStore());
    this.leader.set(this.deps.leading?.() === false ? 0 : 1);
    const merged = Registry.merge([processMetrics(), this.registry]);
    return { contentType: merged.contentType, text: await merged.metrics() };
  }

  /** A task changed state (`TaskService.transition`): the counter, and how long it waited to get there. */
  taskChanged(task: { kind: string; updated_at: number; assigned_at: number | null }, event: TaskEvent | 'create', to: TaskState, now: number): void {
    this.transitions.labels(to, task.kind).inc();
    // The row as it was read: a queued task's updated_at is when it entered the queue (created, or
    // requeued) unless it was renamed while waiting; an assigned one's assigned_at is its lease's start.
    if (event === 'assign') this.queueWait.labels(task.kind).observe(Math.max(0, now - task.updated_at) / 1000);
    if (event === 'start' && task.assigned_at !== null) this.startLatency.labels(task.kind).observe(Math.max(0, now - task.assigned_at) / 1000);
  }

  /** One scheduling decision for a polling agent, and whether it assigned a task. */
  dispatchDecided(seconds: number, assigned: boolean): void {
    this.decisions.labels(assigned ? 'assigned' : 'none').observe(seconds);
    this.recentDecisions.observe(seconds);
  }

  /**
   * One answered request: its duration, and what the answer says about logins and refusals
   * (`endpoint` is the bound route's name, `error` the error body when it failed).
   */
  answered(request: { method: string; route: string; status: number; seconds: number; endpoint: string | undefined; error: ErrorBody['error'] | undefined }): void {
    this.requests.labels(request.method, request.route, String(request.status)).observe(request.seconds);
    const { endpoint, error } = request;
    if (endpoint === 'auth.login') this.logins.labels(error ? (LOGIN_OUTCOMES[error.code] ?? 'refused') : 'ok').inc();
    if (endpoint !== 'tasks.create' || !error) return;
    const details = (error.details ?? {}) as Record<string, unknown>;
    if (error.code === 'POLICY_DENIED') {
      const layer = String(details.layer ?? 'unknown');
      const rule = String(details.rule ?? 'unknown');
      // `policy.users.bob.images.allow` -> rule images.allow, layer user: no user or group names in labels.
      const bare = rule.startsWith(`policy.${layer}.`) ? rule.slice(`policy.${layer}.`.length) : rule;
      this.admissionRefusals.labels(bare, layerKind(layer)).inc();
    }
    if (error.code === 'QUOTA_EXCEEDED') this.quotaRefusals.labels(String(details.quota ?? 'unknown'), String(details.resource ?? 'unknown')).inc();
  }

  private setStore(store: StoreSnapshot): void {
    this.tasks.reset();
    for (const kind of TASK_KINDS) for (const state of TASK_STATES) this.tasks.labels(state, kind).set(0);
    for (const row of store.tasks) this.tasks.labels(row.state, row.kind).set(row.count);
    const queued = store.tasks.filter((row) => row.state === 'QUEUED').reduce((sum, row) => sum + row.count, 0);
    this.queueLength.set(queued);
    this.queueOldest.set(store.oldestQueuedAt === null ? 0 : Math.max(0, this.deps.clock.now() - store.oldestQueuedAt) / 1000);
    for (const status of AGENT_STATUSES) {
      const row = store.agents.find((a) => a.status === status);
      this.agents.labels(status).set(row?.count ?? 0);
      this.agentCpus.labels(status).set(row?.cpus ?? 0);
      this.agentMemory.labels(status).set(row?.memoryBytes ?? 0);
      this.agentGpus.labels(status).set(row?.gpus ?? 0);
    }
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}

/** `groups.research` -> group, `users.bob` -> user; system, floor and group (the uid range) as they are. */
function layerKind(layer: string): string {
  if (layer.startsWith('groups.')) return 'group';
  if (layer.startsWith('users.')) return 'user';
  return ['system', 'floor', 'group', 'user'].includes(layer) ? layer : 'other';
}

/** How operators count an agent (AGENT_STATES in shared: alive or lost; disabled is the admin's switch on an alive one). */
export function agentStatus(agent: { state: (typeof AGENT_STATES)[number]; enabled: boolean }): AgentStatus {
  if (agent.state === 'lost') return 'lost';
  return agent.enabled ? 'alive' : 'disabled';
}
