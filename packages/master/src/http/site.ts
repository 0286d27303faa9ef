import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import proxyAddr from 'proxy-addr';

/** Who asked, and for which URL, as this master can tell (through trusted proxies only). */
export interface ClientInfo {
  /** The peer's address, or the client's as a trusted proxy reports it in X-Forwarded-For. */
  address: string;
  /** https on a TLS connection, or when a trusted proxy says so in X-Forwarded-Proto. */
  protocol: 'http' | 'https';
  /** `host[:port]` the client asked for: X-Forwarded-Host from a trusted proxy, else Host. */
  host: string;
  /** The host's name or address alone, lower case, without port, brackets or a trailing dot. */
  hostname: string;
}

export interface SiteOptions {
  /** Origins from `http.public_url`, e.g. `https://yard.example.com`. */
  publicOrigins: string[];
  /** `http.trust_proxy`: addresses, CIDRs or proxy-addr's names. */
  trustProxy: string[];
  /** `listen.host`: when it is a name rather than an address, requests may use it too. */
  listenHost: string;
  /** `http.services_url`: its host name is answered too (never one of the site's own origins). */
  servicesOrigin?: string | undefined;
}

/**
 * The master's idea of its own site: which host names it answers to, which origins count as its
 * own pages, and whose forwarded headers it believes.
 *
 * Host names: DNS rebinding points a name the attacker owns at this master, so a browser's
 * request carries that name in Host (and Origin). Allowed are the names of `http.public_url`,
 * `listen.host` when it is a name, `localhost` and `*.localhost` (browsers resolve these to
 * loopback themselves), and any IP address (no DNS name, nothing to rebind). Ports are not
 * compared: a rebinding attack cannot change the name, and proxies often change the port.
 */
export class Site {
  private readonly trust: ((address: string, hop: number) => boolean) | undefined;
  private readonly publicOrigins: ReadonlySet<string>;
  private readonly allowedNames: ReadonlySet<string>;
  private readonly httpsNames: ReadonlySet<string>;

  constructor(options: SiteOptions) {
    this.trust = options.trustProxy.length > 0 ? proxyAddr.compile(options.trustProxy) : undefined;
    this.publicOrigins = new Set(options.publicOrigins);
    const urls = options.publicOrigins.map((origin) => new URL(origin));
    const services = options.servicesOrigin === undefined ? [] : [normalizeHostname(new URL(options.servicesOrigin).hostname)];
    this.allowedNames = new Set([...urls.map((url) => normalizeHostname(url.hostname)), normalizeHostname(options.listenHost), ...services]);
    this.httpsNames = new Set(urls.filter((url) => url.protocol === 'https:').map((url) => normalizeHostname(url.hostname)));
  }

  client(req: IncomingMessage): ClientInfo {
    const socket = req.socket as Partial<TLSSocket>;
    let protocol: ClientInfo['protocol'] = socket.encrypted ? 'https' : 'http';
    let host = req.headers.host ?? '';
    let address = req.socket.remoteAddress ?? '';
    if (this.trust && this.trust(address, 0)) {
      // As Express does: the nearest untrusted hop of X-Forwarded-For; the first value of the others.
      address = proxyAddr(req, this.trust);
      const proto = firstValue(req.headers['x-forwarded-proto'])?.toLowerCase();
      if (proto === 'http' || proto === 'https') protocol = proto;
      host = firstValue(req.headers['x-forwarded-host']) || host;
    }
    return { address, protocol, host, hostname: hostnameOf(host) };
  }

  /** Whether requests naming this host are answered (see the class comment). */
  hostAllowed(hostname: string): boolean {
    if (hostname === '') return false;
    if (net.isIP(hostname) !== 0) return true;
    if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
    return this.allowedNames.has(hostname);
  }

  /** CSRF: an Origin is this site's own when it is a public URL's, or the URL this request came to. */
  isOwnOrigin(origin: string, client: ClientInfo): boolean {
    return this.publicOrigins.has(origin) || origin === `${client.protocol}://${client.host}`;
  }

  /**
   * Session cookies are `Secure` when the site is https: the request came over TLS (here or at a
   * trusted proxy), its host's public URL is https, or it came from a page of an https origin of
   * this site (a proxy that neither keeps the Host nor says X-Forwarded-Proto).
   */
  secureCookies(client: ClientInfo, origin: string | undefined): boolean {
    if (client.protocol === 'https' || this.httpsNames.has(client.hostname)) return true;
    return origin !== undefined && origin.startsWith('https://') && this.isOwnOrigin(origin, client);
  }
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',', 1)[0]!.trim();
}

/** `[::1]:8080` → `::1`, `Example.COM.:80` → `example.com`; '' when it cannot be a host. */
function hostnameOf(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(1, end).toLowerCase() : '';
  }
  return normalizeHostname(host.split(':', 1)[0]!);
}

function normalizeHostname(name: string): string {
  const lower = name.toLowerCase();
  const bare = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  return bare.endsWith('.') ? bare.slice(0, -1) : bare;
}
