import { createHash, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { allow, deny, denyUnauthenticated } from './decision.js';
import type { RequestPolicy } from './policy.js';

/** What a scrape of `/metrics` carries that decides whether it is answered. */
export interface ScrapeRequest {
  /** The client's address, through trusted proxies only (`Site.client`). */
  address: string;
  /** Whether the Host names this master (the DNS-rebinding check every page request passes). */
  hostAllowed: boolean;
  /** It carries forwarding headers (X-Forwarded-For, Forwarded, X-Real-IP) that no trusted proxy resolved. */
  forwarded: boolean;
  /** The bearer token of its Authorization header, if any. */
  bearer: string | undefined;
}

/** `metrics:` of master.yaml, as the check needs it: whether loopback is open, and the token's SHA-256 if one is set. */
export interface ScrapeAccess {
  loopback: boolean;
  tokenHash: Buffer | undefined;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

export const hashMetricsToken = sha256;

function isLoopback(address: string): boolean {
  const bare = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  return bare === '::1';
}

/**
 * `/metrics` is for the machine's own monitoring and for a Prometheus the admin gave the token
 * (`metrics.token_file`). A request from loopback passes without one, unless it came through a
 * proxy nobody declared trusted (its forwarding headers say so: on a machine with a reverse proxy,
 * every outside request arrives from loopback), or its Host is not this master's (a DNS-rebinding
 * page in a browser on the machine). A given token is always checked, even from loopback.
 */
export function metricsPolicy(access: ScrapeAccess): RequestPolicy<ScrapeRequest> {
  const tokenRule = access.tokenHash ? 'the bearer token of metrics.token_file' : undefined;
  const loopbackRule = access.loopback ? 'requests from this machine (loopback, not forwarded by an untrusted proxy)' : undefined;
  return {
    audience: 'public',
    name: 'metrics.scrape',
    capability: null,
    rule: [loopbackRule, tokenRule].filter(Boolean).join('; or ') || 'nobody (metrics.loopback is off and no metrics.token_file is set)',
    check(request) {
      if (request.bearer !== undefined) {
        if (!access.tokenHash) return denyUnauthenticated('this master has no metrics token (metrics.token_file): scrape it from loopback without one');
        return timingSafeEqual(sha256(request.bearer), access.tokenHash) ? allow : denyUnauthenticated('not the metrics token (metrics.token_file)');
      }
      if (access.loopback && isLoopback(request.address) && !request.forwarded && request.hostAllowed) return allow;
      if (access.tokenHash) return denyUnauthenticated('metrics need the bearer token of metrics.token_file from anywhere but this machine');
      return deny(
        access.loopback
          ? 'metrics are open to this machine only (loopback, not through a proxy): set metrics.token_file in master.yaml to scrape from elsewhere'
          : 'metrics are turned off: metrics.loopback is false and no metrics.token_file is set',
      );
    },
  };
}
