import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  imageGlob,
  normalizeImage,
  splitReference,
  type AgentAction,
  type ImageList,
  type ImageOperation,
  type ImageReport,
  type ImageView,
  type ImagelessAgent,
} from '@trainyard/shared';
import { imageMatches, imageRefusal, admitPool } from '../admission/rules.js';
import type { Policy } from '../admission/policy.js';
import type { AgentRecord } from '../agents/agent-repository.js';
import type { AgentService } from '../agents/agent-service.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Actor } from '../authz/actor.js';
import type { ImageOperationTarget, ImageTarget } from '../authz/images.js';
import { toIso, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { DomainError, policyDenied } from '../errors.js';
import type { Dialled } from '../interactive/tunnel-broker.js';
import type { TaskService } from '../tasks/task-service.js';
import { imageLoadRepository } from './image-load-repository.js';
import type { ImageOperations } from './image-operations.js';
import { LoadStopped, LoadTarget, streamTarball } from './load-stream.js';

/** How long a started load waits for its tarball before it gives up (and its agents drop their streams). */
const UPLOAD_START_TIMEOUT_MS = 60_000;
/** How long a refused load waits for each agent to say it deleted what it spooled (by closing its stream). */
const DROP_WAIT_MS = 10_000;
/** A load's byte count is published at most this often (each change wakes whoever follows it). */
const PROGRESS_EVERY_MS = 250;

/** Which pools exist and what runs them: image commands reach Trainyard's agents only. */
export interface ImagePools {
  readonly defaultPool: string;
  names(): string[];
  find(name: string): { kind: string } | undefined;
}

/** A load waiting for its tarball: the streams its agents are dialling back. */
interface PendingLoad {
  operationId: string;
  requesterId: number;
  pool: string;
  streams: Array<{ agent: string; stream: Promise<Dialled> }>;
  started: boolean;
  timer: NodeJS.Timeout;
}

/**
 * Images on the agents (issue 27): the list people see, and the operations that change what the
 * agents hold, each checked against the caller's effective policy (`images.allow`,
 * `images.user_pull`, `images.load.allow`, `pools.allow`), audited, and handed to the agents as
 * actions on their long poll (`ImageOperations`). Loads stream their tarball through the master to
 * every agent of the pool at once (`streamTarball`), under `images.load_limit`.
 */
export class ImageService {
  private readonly loads = new Map<string, PendingLoad>();

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      logger: Logger;
      agents: Pick<AgentService, 'poolRecords'>;
      pools: ImagePools;
      policy: () => Policy;
      tasks: Pick<TaskService, 'unfinishedUsingImage'>;
      audit: AuditService;
      operations: ImageOperations;
      /** A stream an agent will dial back for a load (the tunnel broker). */
      expectStream: (agentId: string, what: string) => { streamId: string; stream: Promise<Dialled> };
      /** master.yaml `images.load_limit`, bytes. */
      loadLimit: number;
    },
  ) {}

  /** `yard image list`: one row per tag (and per untagged image) over the alive agents, with where each is and whether the caller's policy admits it. */
  async list(actor: Actor, query: { pool?: string | undefined; agent?: string | undefined; name?: string | undefined }): Promise<ImageList> {
    const policy = this.policyOf(actor);
    const agents = (await this.deps.agents.poolRecords()).filter(
      (a) => a.state === 'alive' && (query.pool === undefined || a.pool === query.pool) && (query.agent === undefined || a.id === query.agent),
    );
    const loads = await imageLoadRepository.list(this.deps.db);
    const glob = query.name === undefined ? undefined : imageGlob(query.name);
    const rows = new Map<string, ImageView>();
    const agentsWithoutImages: ImagelessAgent[] = [];
    for (const agent of agents) {
      const why = imagelessReason(agent);
      if (why) {
        agentsWithoutImages.push({ agent: agent.id, pool: agent.pool, reason: why });
        continue;
      }
      for (const image of agent.imageDetails ?? []) {
        const references = image.tags.length > 0 ? image.tags.map(normalizeImage) : [null];
        for (const reference of references) {
          const { repository, tag } = reference ? splitReference(reference) : { repository: '<none>', tag: null };
          if (glob && !(glob.test(repository) || (reference !== null && glob.test(reference)))) continue;
          const key = `${image.id} ${reference ?? ''}`;
          let row = rows.get(key);
          if (!row) {
            row = {
              repository,
              tag,
              reference,
              id: image.id,
              digests: image.digests,
              size: image.size,
              created: toIso(image.created),
              agents: [],
              pools: [],
              allowed: reference !== null && imageRefusal(reference, policy, actor, actor.username) === null,
              loadedBy: null,
            };
            rows.set(key, row);
          }
          row.agents.push({ agent: agent.id, pool: agent.pool });
          if (!row.pools.includes(agent.pool)) row.pools.push(agent.pool);
          row.loadedBy ??= loads.find((l) => l.reference === reference && l.pool === agent.pool)?.owner ?? null;
        }
      }
    }
    // Named images by name; untagged ones (what a newer tag left behind) after them.
    const items = [...rows.values()].sort(
      (a, b) => Number(a.reference === null) - Number(b.reference === null) || a.repository.localeCompare(b.repository) || (a.tag ?? '').localeCompare(b.tag ?? '') || a.id.localeCompare(b.id),
    );
    const pullRefusal = this.userPullRefusal(actor, policy);
    return {
      items,
      agentsWithoutImages,
      caller: { pull: { allowed: pullRefusal === null, reason: pullRefusal?.message ?? null }, load: this.loadPatterns(actor, policy) },
    };
  }

  /** `yard image pull`: the caller's policy first (images.user_pull, images.allow, pools.allow), then every image-holding agent of the pool (or the one agent) pulls. */
  async pull(actor: Actor, request: { image: string; pool?: string | undefined; agent?: string | undefined }): Promise<ImageOperation> {
    const policy = this.policyOf(actor);
    const refusal = this.userPullRefusal(actor, policy) ?? imageRefusal(request.image, policy, actor, actor.username);
    if (refusal) throw refusal;
    const { pool, agents, skipped } = await this.targets(actor, request, 'pull images');
    const operation = this.deps.operations.create({
      kind: 'pull',
      images: [request.image],
      pool,
      requestedBy: actor,
      agents: [
        ...agents.map((a) => ({ agent: a.id, action: { type: 'image-pull', operationId: '', image: request.image } as AgentAction })),
        ...skipped.map((s) => ({ agent: s.agent, skipped: s.reason })),
      ],
    });
    await this.deps.audit.record(this.deps.db, actor, {
      action: 'image.pull',
      targetType: 'image',
      target: request.image,
      details: { pool, agents: agents.map((a) => a.id), operation: operation.id },
    });
    this.deps.logger.info({ operation: operation.id, image: request.image, pool, agents: agents.map((a) => a.id), user: actor.username }, 'image pull asked');
    return operation;
  }

  /** What `yard image rm` would remove, and who loaded it (for the check `images.remove`). */
  async removalTarget(actor: Actor, request: { image: string; pool?: string | undefined; agent?: string | undefined }): Promise<ImageTarget & { agents: AgentRecord[] }> {
    const { pool, agents } = await this.targets(actor, request, 'remove images');
    const holding = agents.filter((a) => holds(a, request.image));
    if (holding.length === 0) {
      throw new DomainError('IMAGE_NOT_FOUND', `no agent ${request.agent ? `named ${request.agent}` : `of pool ${pool}`} has image ${request.image} (yard image list shows what they have)`);
    }
    const load = await imageLoadRepository.find(this.deps.db, request.image, pool);
    return { reference: request.image, pool, loadedBy: load ? { id: load.ownerId, username: load.owner } : null, agents: holding };
  }

  /** `yard image rm`, once `images.remove` allowed it: refused while an unfinished task of the pool names the image; never forced. */
  async remove(actor: Actor, target: ImageTarget & { agents: AgentRecord[] }): Promise<ImageOperation> {
    const using = await this.deps.tasks.unfinishedUsingImage(target.reference, target.pool);
    if (using.length > 0) {
      throw new DomainError(
        'IMAGE_IN_USE',
        `image ${target.reference} is used by unfinished task${using.length > 1 ? 's' : ''} ${using.join(', ')} in pool ${target.pool}: remove it once ${using.length > 1 ? 'they end' : 'it ends'} (or kill ${using.length > 1 ? 'them' : 'it'})`,
      );
    }
    const operation = this.deps.operations.create({
      kind: 'remove',
      images: [target.reference],
      pool: target.pool,
      requestedBy: actor,
      agents: target.agents.map((a) => ({ agent: a.id, action: { type: 'image-remove', operationId: '', image: target.reference } as AgentAction })),
    });
    await this.deps.audit.record(this.deps.db, actor, {
      action: 'image.remove',
      targetType: 'image',
      target: target.reference,
      details: { pool: target.pool, agents: target.agents.map((a) => a.id), loadedBy: target.loadedBy?.username ?? null, operation: operation.id },
    });
    this.deps.operations.whenEnded(operation.id, (ended) => {
      // Gone from every agent it was on: nobody holds the name there any more.
      if (ended.agents.every((a) => a.state === 'done')) {
        void imageLoadRepository.remove(this.deps.db, target.reference, target.pool).catch((error: unknown) => this.deps.logger.error({ err: error }, 'the load record of a removed image was not deleted'));
      }
    });
    return operation;
  }

  /**
   * `yard image load`, first half: may the caller load at all (`images.load.allow` not empty), is the
   * declared size within the limit, which agents take it. Each is asked to dial back a stream; the
   * tarball follows in `receive`.
   */
  async startLoad(actor: Actor, request: { pool?: string | undefined; agent?: string | undefined; size?: number | undefined }): Promise<ImageOperation> {
    const policy = this.policyOf(actor);
    if (!actor.can('change_config')) {
      const rule = policy.get('images.load.allow');
      if (rule.value.length === 0) {
        throw policyDenied(`loading images refused by ${rule.name}: it allows no names; an admin lists the names users may load (such as "user/{user}/.*")`, rule.name, rule.layer);
      }
    }
    const limit = this.deps.loadLimit;
    if (request.size !== undefined && request.size > limit) {
      throw new DomainError('PAYLOAD_TOO_LARGE', `the tarball is ${request.size} bytes, more than images.load_limit (${limit} bytes): nothing was sent`);
    }
    const { pool, agents, skipped } = await this.targets(actor, request, 'load images');
    const streams = agents.map((a) => ({ agent: a.id, ...this.deps.expectStream(a.id, 'for an image load') }));
    const operation = this.deps.operations.create({
      kind: 'load',
      images: [],
      pool,
      requestedBy: actor,
      agents: [
        ...streams.map(({ agent, streamId }) => ({ agent, action: { type: 'image-load', operationId: '', streamId, maxBytes: limit } as AgentAction })),
        ...skipped.map((s) => ({ agent: s.agent, skipped: s.reason })),
      ],
    });
    const pending: PendingLoad = {
      operationId: operation.id,
      requesterId: actor.userId,
      pool,
      streams: streams.map(({ agent, stream }) => ({ agent, stream })),
      started: false,
      timer: setTimeout(() => this.abandon(operation.id, `no tarball came within ${UPLOAD_START_TIMEOUT_MS / 1000} s of starting the load`), UPLOAD_START_TIMEOUT_MS),
    };
    pending.timer.unref();
    // A stream that is never dialled back fails that agent's part (the broker's dial timeout).
    for (const { agent, stream } of pending.streams) {
      stream.catch((error: unknown) => this.deps.operations.setAgent(operation.id, agent, { state: 'failed', message: (error as Error).message }));
    }
    this.loads.set(operation.id, pending);
    this.deps.logger.info({ operation: operation.id, pool, agents: agents.map((a) => a.id), user: actor.username }, 'image load started');
    return this.deps.operations.find(operation.id).view;
  }

  /** Who started a load (the check `images.load_data`), if it still waits for its tarball. */
  loadTarget(id: string): ImageOperationTarget {
    const { view, requesterId } = this.deps.operations.find(id);
    if (view.kind !== 'load') throw new DomainError('OPERATION_NOT_FOUND', `image operation ${id} is not a load`);
    return { id, requesterId, requestedBy: view.requestedBy };
  }

  /**
   * `yard image load`, second half: the tarball, streamed to the agents as it comes. Its names are
   * known at its end; each must be one the caller's `images.load.allow` admits (and not a name
   * someone else loaded into the pool), else every agent drops what it took. Then the agents load
   * it, and answer on their streams; the operation says how each did.
   */
  async receive(actor: Actor, id: string, body: Readable): Promise<ImageOperation> {
    const load = this.loads.get(id);
    if (!load) {
      const { view } = this.deps.operations.find(id);
      throw new DomainError('CONFLICT', `image load ${id} ${view.done ? 'has ended' : 'has its tarball already'}: start another with yard image load`);
    }
    if (load.started) throw new DomainError('CONFLICT', `image load ${id} has its tarball already`);
    load.started = true;
    clearTimeout(load.timer);
    const operations = this.deps.operations;
    const targets: LoadTarget[] = [];
    for (const { agent, stream } of load.streams) {
      try {
        targets.push(new LoadTarget(agent, (await stream) as WebSocket));
      } catch {
        // That agent's part failed already, saying why.
      }
    }
    const finish = async (message: string, status: 'failed' | 'aborted') => {
      for (const target of targets) target.control({ type: 'abort', reason: message });
      // Said at once: a client whose upload broke off (the answer below closes the connection) reads it here.
      operations.fail(id, message);
      this.loads.delete(id);
      this.deps.logger.info({ operation: id, status, reason: message }, 'image load stopped');
      // Each agent deletes what it spooled, then closes its stream: the answer says they dropped it once they did
      // (an agent that does not answer in time is closed on; it deletes its spool when it sees the stream go).
      await Promise.race([Promise.all(targets.map((t) => t.result)), delay(DROP_WAIT_MS, undefined, { ref: false })]);
      for (const target of targets) target.close();
    };
    if (targets.length === 0) {
      await finish('no agent connected to take the tarball', 'failed');
      throw new DomainError('NO_IMAGE_AGENTS', `no agent of pool ${load.pool} connected to take the tarball: ${describeFailures(operations.find(id).view)}`);
    }
    for (const target of targets) operations.setAgent(id, target.agent, { state: 'running', bytes: 0 });
    // An agent that refuses early (over its own room, a full disk) says so; the rest go on.
    for (const target of targets) void target.result.then((result) => !result.ok && operations.setAgent(id, target.agent, { state: 'failed', message: result.message }));

    let published = 0;
    let received: Awaited<ReturnType<typeof streamTarball>>;
    try {
      received = await streamTarball(body, {
        limit: this.deps.loadLimit,
        targets,
        onBytes: (total) => {
          const now = Date.now();
          if (now - published < PROGRESS_EVERY_MS) return;
          published = now;
          operations.set(id, { bytes: total });
          for (const target of targets) if (target.open) operations.setAgent(id, target.agent, { bytes: total });
        },
      });
    } catch (error) {
      const stopped = error as LoadStopped;
      const message = stopped.reason === 'too_large' ? `${stopped.message}: every agent dropped what it took` : stopped.message;
      await finish(message, 'failed');
      if (stopped.reason === 'too_large') throw new DomainError('PAYLOAD_TOO_LARGE', message);
      if (stopped.reason === 'no_agent') throw new DomainError('NO_IMAGE_AGENTS', `every agent stopped taking the tarball: ${describeFailures(operations.find(id).view)}`);
      throw new DomainError('INVALID_INPUT', stopped.message);
    }
    const { verdict, bytes } = received;
    operations.set(id, { bytes });
    if ('problem' in verdict) {
      await finish(`the tarball cannot be loaded: ${verdict.problem}`, 'aborted');
      throw new DomainError('INVALID_INPUT', `the tarball cannot be loaded: ${verdict.problem}`);
    }
    operations.set(id, { images: verdict.names });
    const refusal = await this.loadRefusal(actor, verdict.names, load.pool);
    if (refusal) {
      await finish(refusal.message, 'aborted');
      throw refusal;
    }
    const taking = targets.filter((t) => t.open);
    for (const target of taking) target.control({ type: 'end', names: verdict.names, bytes });
    await this.deps.audit.record(this.deps.db, actor, {
      action: 'image.load',
      targetType: 'image',
      target: verdict.names.join(', '),
      details: { pool: load.pool, agents: taking.map((t) => t.agent), bytes, operation: id },
    });
    this.loads.delete(id);
    for (const target of targets) {
      void target.result.then(async (result) => {
        target.close();
        if (!result.ok) return operations.setAgent(id, target.agent, { state: 'failed', message: result.message });
        // Recorded before the part is done, so that whoever follows the load sees it as theirs at once.
        await this.recordLoad(actor, verdict.names, load.pool, result.imageIds[0] ?? '').catch((error: unknown) =>
          this.deps.logger.error({ err: error, operation: id }, 'a loaded image was not recorded as its loader\'s'),
        );
        operations.setAgent(id, target.agent, { state: 'done', message: result.message, status: result.message, imageId: result.imageIds[0] ?? null, bytes });
      });
    }
    this.deps.logger.info({ operation: id, names: verdict.names, bytes, pool: load.pool }, 'image tarball received');
    return operations.find(id).view;
  }

  /** `GET /images/operations/:id` (who may follow it: the check `images.operation`). */
  operationTarget(id: string): ImageOperationTarget {
    const { view, requesterId } = this.deps.operations.find(id);
    return { id, requesterId, requestedBy: view.requestedBy };
  }

  watch(id: string, seen: number | undefined, waitMs: number): Promise<ImageOperation> {
    return this.deps.operations.watch(id, seen, waitMs);
  }

  /** An agent's report on its part of an operation. */
  report(agentId: string, id: string, report: ImageReport): void {
    this.deps.operations.report(agentId, id, report);
  }

  /**
   * The agents a pull, load or removal goes to: the one named (`--agent`), else every alive agent
   * of the pool (`--pool`, else default_pool) that can hold images; the pool must be one the
   * caller's `pools.allow` admits and be run by Trainyard's agents.
   */
  private async targets(
    actor: Actor,
    request: { pool?: string | undefined; agent?: string | undefined },
    what: string,
  ): Promise<{ pool: string; agents: AgentRecord[]; skipped: Array<{ agent: string; reason: string }> }> {
    const records = await this.deps.agents.poolRecords();
    let pool: string;
    let candidates: AgentRecord[];
    if (request.agent !== undefined) {
      const agent = records.find((a) => a.id === request.agent);
      if (!agent) throw new DomainError('AGENT_NOT_FOUND', `agent '${request.agent}' does not exist`);
      pool = agent.pool;
      candidates = [agent];
    } else {
      pool = request.pool ?? this.deps.pools.defaultPool;
      candidates = records.filter((a) => a.pool === pool);
    }
    const manager = this.deps.pools.find(pool);
    if (!manager) throw new DomainError('POOL_NOT_FOUND', `pool '${pool}' does not exist (pools: ${this.deps.pools.names().join(', ')})`);
    admitPool(pool, this.policyOf(actor));
    if (manager.kind !== 'agents') {
      throw new DomainError(
        'NO_IMAGE_AGENTS',
        `pool ${pool} is run by ${manager.kind}, not by Trainyard's agents: its nodes take images as each task's user when the task starts (yard image commands reach agents only)`,
      );
    }
    const agents: AgentRecord[] = [];
    const skipped: Array<{ agent: string; reason: string }> = [];
    for (const agent of candidates) {
      const why = agent.state !== 'alive' ? `agent ${agent.id} is ${agent.state}` : imagelessReason(agent);
      if (why) skipped.push({ agent: agent.id, reason: why });
      else agents.push(agent);
    }
    if (agents.length === 0) {
      const where = request.agent !== undefined ? `agent ${request.agent}` : `pool ${pool}`;
      const reasons = skipped.length > 0 ? skipped.map((s) => s.reason).join('; ') : `pool ${pool} has no agents`;
      throw new DomainError('NO_IMAGE_AGENTS', `cannot ${what} on ${where}: ${reasons}`);
    }
    return { pool, agents, skipped };
  }

  /** `images.user_pull` for this caller (holders of change_config always may pull): the refusal, or null. */
  private userPullRefusal(actor: Actor, policy: ReturnType<Policy['for']>): DomainError | null {
    if (actor.can('change_config')) return null;
    const rule = policy.get('images.user_pull');
    if (rule.value === 'allow') return null;
    return policyDenied(
      `pulling images refused by ${rule.name} (deny): ${actor.username} may not ask the agents to pull; an admin pulls it (yard image pull), ` +
        'or allows users to (images.user_pull: allow)',
      rule.name,
      rule.layer,
    );
  }

  /** The names this caller may load, with `{user}` filled in (change_config: any). */
  private loadPatterns(actor: Actor, policy: ReturnType<Policy['for']>): string[] {
    if (actor.can('change_config')) return ['.*'];
    return policy.get('images.load.allow').value.map((p) => p.replaceAll('{user}', actor.username));
  }

  /** A name the caller's `images.load.allow` does not admit, or one someone else loaded into the pool: the refusal. */
  private async loadRefusal(actor: Actor, names: string[], pool: string): Promise<DomainError | null> {
    const admin = actor.can('change_config');
    const rule = this.policyOf(actor).get('images.load.allow');
    for (const name of names) {
      if (!admin && !imageMatches(rule.value, name, actor.username)) {
        const allowed = this.loadPatterns(actor, this.policyOf(actor)).map((p) => `"${p}"`).join(', ');
        return policyDenied(
          `image ${name} refused by ${rule.name}: ${actor.username} may load only names matching ${allowed || 'none'}; ` +
            'tag the image with such a name (docker tag) and save it again. Nothing was loaded',
          rule.name,
          rule.layer,
        );
      }
      const earlier = await imageLoadRepository.find(this.deps.db, name, pool);
      if (!admin && earlier && earlier.ownerId !== actor.userId) {
        return new DomainError('FORBIDDEN', `image ${name} in pool ${pool} was loaded by ${earlier.owner}: only they (or an admin) may replace it; nothing was loaded`);
      }
    }
    return null;
  }

  private async recordLoad(actor: Actor, names: string[], pool: string, imageId: string): Promise<void> {
    const loadedAt = this.deps.clock.now();
    for (const reference of names) await imageLoadRepository.record(this.deps.db, { reference, pool, ownerId: actor.userId, imageId, loadedAt });
  }

  /** A load whose tarball never came: its agents are told, and drop their streams. */
  private abandon(id: string, message: string): void {
    const load = this.loads.get(id);
    if (!load || load.started) return;
    this.loads.delete(id);
    for (const { stream } of load.streams) {
      void stream.then((ws) => {
        const target = new LoadTarget('', ws as WebSocket);
        target.control({ type: 'abort', reason: message });
        target.close();
      }, () => undefined);
    }
    this.deps.operations.fail(id, message);
  }

  private policyOf(actor: Actor) {
    return this.deps.policy().for({ username: actor.username, groups: actor.groups.map((g) => g.path) });
  }
}

/** Why an agent holds no images to list, pull to or load into: its executor runs none, or it never said. */
function imagelessReason(agent: AgentRecord): string | undefined {
  if (agent.executor === 'process') return `agent ${agent.id} runs tasks with the process executor, which runs no images (it has none to list, pull or load)`;
  if (agent.executor !== 'docker') return `agent ${agent.id} runs tasks with the ${agent.executor} executor, whose images are its users' own`;
  if (agent.imageDetails === null) return `agent ${agent.id} has not said which images it has (an agent from before 0.3: upgrade it)`;
  return undefined;
}

/** Whether the agent has `reference` (normalised) as one of its tags or digests. */
function holds(agent: AgentRecord, reference: string): boolean {
  return (agent.imageDetails ?? []).some((image) => [...image.tags, ...image.digests].some((ref) => normalizeImage(ref) === reference));
}

function describeFailures(view: ImageOperation): string {
  return view.agents.map((a) => `${a.agent}: ${a.message ?? a.state}`).join('; ');
}
