import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { ApiError, MasterSet, parseMasterUrls, TransportError, YardClient } from '@trainyard/shared/client';
import { API_PREFIX, endpointPath, TUNNEL_UPGRADE } from '@trainyard/shared';
import type {
  AgentImageList,
  AgentLogsRequest,
  ImageReport,
  CallArgs,
  EndpointName,
  EndpointResponse,
  ErrorCode,
  LeaseRef,
  RegisterAgentRequest,
  ReleaseRequest,
  ReportStateRequest,
} from '@trainyard/shared';

/** The master answered with an error in its documented shape. */
export class MasterError extends Error {
  override name = 'MasterError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The master could not be reached (down, restarting, network): worth retrying. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
  /** Several masters: a standby answered and none leads yet (a failover is under way, over in seconds). */
  readonly failover: boolean;
  constructor(message: string, options: { failover?: boolean } = {}) {
    super(message);
    this.failover = options.failover ?? false;
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DIAL_TIMEOUT_MS = 15_000;

/**
 * The agent's side of /api/v1/agents/:id/...: every call with the agent token, through the shared
 * client. `master` may name several masters (`a,b`: one leads, the others stand by): each call goes
 * to the leader, following a standby's NOT_LEADER, and on to the next master when one cannot be
 * reached; when none leads it fails as unreachable, and the agent's own loop retries (which URL is
 * the client's business, when to retry the agent's).
 */
export class MasterClient {
  private readonly client: YardClient;

  constructor(
    master: string,
    private readonly agentId: string,
    private readonly token: string,
  ) {
    // Every agent call may be sent twice (leases, offsets, idempotent reports): one left unanswered goes on to the next master.
    this.client = new YardClient({ baseUrl: '', masters: new MasterSet(parseMasterUrls(master)), token, resendable: true });
  }

  /** The master calls go to now: the leader, as far as the agent knows. */
  get origin(): string {
    return this.client.masters.current;
  }

  /**
   * Dials back a stream to a task's port (an `open` action): an upgrade to `trainyard-tcp`,
   * outbound like every call, after which the connection carries the service's bytes as they are.
   */
  dialTunnel(streamId: string): Promise<Socket> {
    const url = `${this.origin}${this.streamPath(streamId)}`;
    return new Promise((resolve, reject) => {
      const request = (url.startsWith('https:') ? https : http).request(url, {
        method: 'GET',
        headers: { authorization: `Bearer ${this.token}`, connection: 'Upgrade', upgrade: TUNNEL_UPGRADE },
        timeout: DIAL_TIMEOUT_MS,
      });
      request.on('upgrade', (_response, socket, head) => {
        socket.setTimeout(0);
        socket.setNoDelay(true);
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      request.on('response', (response) => {
        response.resume();
        reject(new Error(`the master answered HTTP ${response.statusCode} instead of opening the stream`));
      });
      request.on('timeout', () => request.destroy(new Error('the master did not answer in time')));
      request.on('error', reject);
      request.end();
    });
  }

  /** Dials back a shell's stream (an `open` action for a command): a WebSocket, outbound like every call. */
  dialStream(streamId: string): WebSocket {
    const url = `${this.origin.replace(/^http/, 'ws')}${this.streamPath(streamId)}`;
    return new WebSocket(url, {
      headers: { authorization: `Bearer ${this.token}` },
      perMessageDeflate: false,
      handshakeTimeout: DIAL_TIMEOUT_MS,
      // A zero mask, which ws then skips applying: masking protects caching proxies from what a
      // browser's page sends; the agent is no browser, and XOR-ing every byte in JavaScript is slow.
      generateMask: (mask: Buffer) => void mask.fill(0),
    });
  }

  /** Tells the master that a stream it asked for cannot be connected, and why. */
  streamFailed(streamId: string, message: string) {
    return this.call('agent.streamFailed', { params: { id: this.agentId, streamId }, body: { message: message.slice(0, 1024) } });
  }

  private streamPath(streamId: string): string {
    return `${API_PREFIX}${endpointPath('agent.stream', { params: { id: this.agentId, streamId } })}`;
  }

  register(body: RegisterAgentRequest) {
    return this.call('agent.register', { params: this.params(), body });
  }
  /** `images`: sent when the machine's images changed since the master was last told (with their details). */
  heartbeat(running: LeaseRef[], listedAfter: number | undefined, images?: { images: string[] | null; imageDetails: AgentImageList }) {
    const body = { running, ...(listedAfter === undefined ? {} : { listedAfter }), ...(images ?? {}) };
    return this.call('agent.heartbeat', { params: this.params(), body });
  }
  /** How an image operation the master handed this agent goes. */
  imageReport(operationId: string, body: ImageReport) {
    return this.call('agent.imageReport', { params: { id: this.agentId, operationId }, body });
  }
  poll(waitSeconds: number, signal?: AbortSignal) {
    return this.call('agent.poll', { params: this.params(), query: { wait: waitSeconds } }, { ...(signal ? { signal } : {}), timeoutMs: (waitSeconds + 30) * 1000 });
  }
  acknowledge(taskId: number, leaseId: string) {
    return this.call('agent.ack', { params: this.params(taskId), body: { leaseId } });
  }
  release(taskId: number, body: ReleaseRequest) {
    return this.call('agent.release', { params: this.params(taskId), body });
  }
  reportState(taskId: number, body: ReportStateRequest) {
    return this.call('agent.state', { params: this.params(taskId), body });
  }
  sendLogs(taskId: number, body: AgentLogsRequest) {
    return this.call('agent.logs', { params: this.params(taskId), body });
  }

  /** The master's errors become MasterError; anything without its error body is worth retrying. */
  private async call<K extends EndpointName>(name: K, ...[input, options]: CallArgs<K>): Promise<EndpointResponse<K>> {
    try {
      return await this.client.call(name, ...([input, { timeoutMs: DEFAULT_TIMEOUT_MS, ...options }] as CallArgs<K>));
    } catch (error) {
      if (error instanceof ApiError) throw new MasterError(error.status, error.code, error.message);
      if (error instanceof TransportError) throw new UnreachableError(describe(error), { failover: error.kind === 'no_leader' && error.status === 503 });
      throw error;
    }
  }

  private params(): { id: string };
  private params(taskId: number): { id: string; taskId: number };
  private params(taskId?: number) {
    return taskId === undefined ? { id: this.agentId } : { id: this.agentId, taskId };
  }

  get id(): string {
    return this.agentId;
  }
}

function describe(error: TransportError): string {
  if (error.kind === 'unreachable') {
    const cause = error.cause as { cause?: Error; message?: string } | undefined;
    return `master unreachable: ${cause?.cause?.message ?? cause?.message ?? String(error.cause)}`;
  }
  if (error.kind === 'timeout') return `master did not answer within ${(error.timeoutMs ?? 0) / 1000} s`;
  if (error.kind === 'no_leader') return error.message;
  // A proxy or a master on its way down: try again later.
  return error.kind === 'not_json' ? `master sent HTTP ${error.status} that is not JSON` : `master answered HTTP ${error.status}`;
}
