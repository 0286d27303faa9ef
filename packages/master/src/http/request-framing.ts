import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';

/**
 * Headers Node keeps only the first of, and that the master acts on. Two of them make a request
 * mean one thing to the master and maybe another to a proxy in front of it (which may take the
 * last): RFC 9112 3.2 says 400 for two Hosts, and the same ambiguity is refused for the others.
 * (Node's parser already refuses two Content-Lengths, a length with chunks, codings other than
 * chunked and folded headers, as `answerClientError` words it.)
 */
const SINGLE_HEADERS = ['host', 'authorization', 'content-type'];

/** RFC 3986's host (an IP literal in brackets, or a name or IPv4 address) with an optional port. */
const HOST_SYNTAX = /^(?:\[[0-9A-Za-z:.%]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d*)?$/;
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * The first step of every request, upgrades included (before health checks): a request whose
 * framing or target could be read two ways is refused (400, and the connection closed), and an
 * absolute URI as the target names the host (RFC 9112 3.2.2: the Host header is then ignored), so
 * that the Host check judges the host the request is really for.
 */
export function requestFraming(): Middleware<AppState> {
  return async (ctx, next) => {
    const problem = ambiguity(ctx.req) ?? takeAbsoluteForm(ctx.req);
    if (problem) {
      ctx.set('Connection', 'close');
      throw new DomainError('INVALID_INPUT', problem);
    }
    ctx.originalUrl = ctx.req.url ?? '/';
    await next();
  };
}

function ambiguity(req: IncomingMessage): string | undefined {
  const counts = new Map<string, { name: string; count: number }>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const key = name.toLowerCase();
    if (!SINGLE_HEADERS.includes(key)) continue;
    const seen = counts.get(key);
    counts.set(key, { name: seen?.name ?? name, count: (seen?.count ?? 0) + 1 });
  }
  for (const key of SINGLE_HEADERS) {
    const seen = counts.get(key);
    if (seen && seen.count > 1) return `the request has ${seen.count} ${canonical(key)} headers: send exactly one`;
  }
  const host = req.headers.host;
  if (host !== undefined && !HOST_SYNTAX.test(host)) return `the Host header ${JSON.stringify(host)} is not a host[:port]`;
  return undefined;
}

/** `GET http://host/path`: the URI's authority becomes the Host, its path and query the target. */
function takeAbsoluteForm(req: IncomingMessage): string | undefined {
  const target = req.url ?? '';
  if (!ABSOLUTE_FORM.test(target)) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return `the request's target ${JSON.stringify(target)} is not a URI`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `the request's target is a ${url.protocol.slice(0, -1)} URI: this master speaks http and https only`;
  if (url.username || url.password) return "the request's target carries credentials: send them in an Authorization header";
  req.headers.host = url.host;
  req.url = `${url.pathname}${url.search}`;
  return undefined;
}

const canonical = (key: string) => key.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
