import type http from 'node:http';
import type { Middleware } from 'koa';
import { PROXIED_PATH, PROXY_PREFIX } from '@trainyard/shared';
import { DomainError } from '../errors.js';
import type { AppContext, AppState } from '../http/app-state.js';
import type { ClientInfo } from '../http/site.js';

const ON_SERVICES_PORT = Symbol('trainyard.services-port');
type MarkedRequest = http.IncomingMessage & { [ON_SERVICES_PORT]?: true };

/**
 * Tasks' services on an origin of their own (`listen.services_port`, `http.services_url`). On the
 * master's origin a notebook's scripts are the master's pages: they could call the API with the
 * session of whoever opened them (an admin opening a user's notebook would run that user's code
 * as admin). On another origin the browser keeps them apart: they cannot read the master's answers
 * (no CORS), and the master refuses cookie requests that change anything from a foreign Origin.
 * The session cookie still reaches the services' port (cookies are per host, not per port), so
 * the proxy authenticates as before.
 */
export class ServicesOrigin {
  private ports: { main: number; services: number | undefined } = { main: 0, services: undefined };

  constructor(
    private readonly config: {
      /** `http.services_url`: the services' origin as browsers reach it, when fixed. */
      url: string | undefined;
      /** `http.public_url`: where the master itself is reached, when fixed. */
      publicOrigins: string[];
      /** `listen.services_port` is set: the master listens for services on a port of their own. */
      ownPort: boolean;
    },
  ) {}

  get enabled(): boolean {
    return this.config.url !== undefined || this.config.ownPort;
  }

  /** The ports the master listens on, once bound (`listen.port` or `services_port` may be 0). */
  bound(ports: { main: number; services: number | undefined }): void {
    this.ports = ports;
  }

  /** Wraps the services port's request handler: its requests are the services origin's, whatever their Host. */
  mark<A extends unknown[]>(handler: (req: http.IncomingMessage, ...rest: A) => void): (req: http.IncomingMessage, ...rest: A) => void {
    return (req, ...rest) => {
      (req as MarkedRequest)[ON_SERVICES_PORT] = true;
      handler(req, ...rest);
    };
  }

  /** The services' origin for this client: `services_url`, else the host it reached the master by on the services port. */
  origin(client: ClientInfo): string | null {
    if (!this.enabled) return null;
    return this.config.url ?? `${client.protocol}://${hostPart(client.hostname)}:${this.ports.services}`;
  }

  /** The master's own origin for a client of the services origin (where its login page is). */
  mainOrigin(client: ClientInfo): string {
    return this.config.publicOrigins[0] ?? `${client.protocol}://${hostPart(client.hostname)}:${this.ports.main}`;
  }

  isServicesRequest(ctx: AppContext): boolean {
    if ((ctx.req as MarkedRequest)[ON_SERVICES_PORT]) return true;
    const { client } = ctx.state;
    return this.config.url !== undefined && `${client.protocol}://${client.host}` === this.config.url;
  }

  /**
   * Keeps the two origins apart: the services origin answers only `/proxy/<id>/...`; the master's
   * origin sends `/proxy/<id>/...` on to it (307: the method and body stay), so links to the
   * master's proxy path keep working and no service is ever served on the master's origin.
   */
  gate(): Middleware<AppState> {
    return async (ctx, next) => {
      if (!this.enabled) return next();
      const proxied = PROXIED_PATH.test(ctx.path);
      if (this.isServicesRequest(ctx)) {
        if (!proxied) {
          throw new DomainError('NOT_FOUND', `this origin serves only tasks' services (${PROXY_PREFIX}/<task id>/); Trainyard itself is at ${this.mainOrigin(ctx.state.client)}`);
        }
        return next();
      }
      if (!proxied) return next();
      ctx.status = 307;
      ctx.redirect(`${this.origin(ctx.state.client)}${ctx.originalUrl}`);
    };
  }
}

/** A host name or address as it stands in a URL (IPv6 in brackets). */
function hostPart(hostname: string): string {
  return hostname.includes(':') ? `[${hostname}]` : hostname;
}
