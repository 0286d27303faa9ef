// A load generator in its own process: autocannon against one URL, the figures as JSON on stdout.
import autocannon from 'autocannon';
import type { LoadOptions } from './load.js';

const input = JSON.parse(process.argv[2]!) as LoadOptions;
const result = await autocannon({
  url: input.url,
  connections: input.connections,
  duration: input.durationSeconds,
  method: input.method ?? 'GET',
  headers: input.headers,
  body: input.body,
  ...(input.requests ? { requests: input.requests } : {}),
});
console.log(
  JSON.stringify({
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx,
    total: result.requests.total,
  }),
);
