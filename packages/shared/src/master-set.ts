/**
 * The masters a client may talk to (`--master a,b`, `YARD_MASTER=a,b`): with several masters on one
 * PostgreSQL (`ha` in master.yaml) one leads and the others stand by, answering 503 `NOT_LEADER`
 * with the leader's URL. A `MasterSet` is where a client (the CLI's, the agent's) sends its next
 * request: the master that last answered, or the leader a standby named. It is shared by a client
 * and its `withToken` copies, so the leader one call found is where the next call goes.
 */
export class MasterSet {
  readonly urls: readonly string[];
  private leader: string;

  constructor(urls: readonly string[]) {
    if (urls.length === 0) throw new Error('no master URL given');
    this.urls = [...new Set(urls)];
    this.leader = this.urls[0]!;
  }

  /** Where the next request goes: the master that last answered, or the leader a standby named. */
  get current(): string {
    return this.leader;
  }

  /** A master answered (or a standby named it as the leader): requests go there from now on. */
  follow(url: string): void {
    this.leader = url;
  }

  /** Every URL to try once, starting with `first`: the given list in its order, `first` (a named leader) included. */
  rotation(first: string = this.leader): string[] {
    return [first, ...this.urls.filter((url) => url !== first)];
  }
}

/**
 * `a,b` (a comma-separated list, spaces allowed) as the masters' origins: `host:port` gets
 * `http://`, a path is dropped. Throws an Error naming the entry that is not an http(s) URL.
 */
export function parseMasterUrls(value: string): string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error(`'${value}' names no master: give a URL such as http://127.0.0.1:8080, or several separated by commas`);
  return [...new Set(entries.map(masterOrigin))];
}

function masterOrigin(entry: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `http://${entry}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`'${entry}' is not a URL such as http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`'${entry}' must be an http:// or https:// URL`);
  return url.origin;
}
