import {
  API_PREFIX,
  isErrorBody,
  type AgentLogsRequest,
  type ErrorCode,
  type HeartbeatResponse,
  type LeaseRef,
  type PollResponse,
  type RegisterAgentRequest,
  type RegisterAgentResponse,
  type ReleaseRequest,
  type ReportStateRequest,
  type TaskRunSpec,
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
}

/** The agent's side of /api/v1/agents/:id/...: every call with the agent token. */
export class MasterClient {
  private readonly base: string;

  constructor(
    master: string,
    private readonly agentId: string,
    private readonly token: string,
  ) {
    this.base = `${new URL(master).origin}${API_PREFIX}/agents/${encodeURIComponent(agentId)}`;
  }

  register(body: RegisterAgentRequest) {
    return this.call<RegisterAgentResponse>('POST', '/register', body);
  }
  heartbeat(running: LeaseRef[]) {
    return this.call<HeartbeatResponse>('POST', '/heartbeat', { running });
  }
  poll(waitSeconds: number, signal?: AbortSignal) {
    return this.call<PollResponse>('GET', `/work?wait=${waitSeconds}`, undefined, signal, (waitSeconds + 30) * 1000);
  }
  acknowledge(taskId: number, leaseId: string) {
    return this.call<TaskRunSpec>('POST', `/tasks/${taskId}/ack`, { leaseId });
  }
  release(taskId: number, body: ReleaseRequest) {
    return this.call<{ state: string }>('POST', `/tasks/${taskId}/release`, body);
  }
  reportState(taskId: number, body: ReportStateRequest) {
    return this.call<{ state: string }>('POST', `/tasks/${taskId}/state`, body);
  }
  sendLogs(taskId: number, body: AgentLogsRequest) {
    return this.call<{ received: number }>('POST', `/tasks/${taskId}/logs`, body);
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, timeoutMs = 30_000): Promise<T> {
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      throw new UnreachableError(`master unreachable: ${(error as { cause?: Error }).cause?.message ?? (error as Error).message}`);
    }
    const text = await response.text().catch(() => '');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new UnreachableError(`master sent HTTP ${response.status} that is not JSON`);
    }
    if (!response.ok) {
      if (isErrorBody(json)) throw new MasterError(response.status, json.error.code, json.error.message);
      // A proxy or a master on its way down: try again later.
      throw new UnreachableError(`master answered HTTP ${response.status}`);
    }
    return json as T;
  }

  get id(): string {
    return this.agentId;
  }
}
