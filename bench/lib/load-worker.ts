// A load generator in its own process: autocannon against one URL, the figures as JSON on stdout.
import autocannon from 'autocannon';

const { url, connections, durationSeconds, headers } = JSON.parse(process.argv[2]!) as {
  url: string;
  connections: number;
  durationSeconds: number;
  headers?: Record<string, string>;
};
const result = await autocannon({ url, connections, duration: durationSeconds, headers });
console.log(
  JSON.stringify({
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx,
    total: result.requests.total,
  }),
);
