// autocannon ships no types (and @types/autocannon describes its major 7): what load-worker.ts uses of its major 9.
declare module 'autocannon' {
  interface Request {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
  }

  interface Options {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    method?: string;
    headers?: Record<string, string> | undefined;
    body?: string | undefined;
    /** Requests each connection cycles through. */
    requests?: Request[];
  }

  /** Per-second request counts, or latencies in ms. */
  interface Histogram {
    average: number;
    p50: number;
    p99: number;
  }

  interface Result {
    /** `total`: the requests that completed. */
    requests: Histogram & { total: number };
    latency: Histogram;
    /** Requests that failed: connection errors and timeouts. */
    errors: number;
    /** Answers with a status outside 2xx. */
    non2xx: number;
  }

  /** Without a callback it returns the run's result as a promise. */
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
