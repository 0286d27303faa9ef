import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { ROOT } from './cli.js';
// @ts-expect-error: a plain script (it runs with bare node inside the namespace), without types.
import { splice } from './netns-relay.mjs';

/** Debian's chromium, or where YARD_CHROMIUM says (`bash scripts/browser.sh` prints it). */
export const CHROMIUM = process.env.YARD_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

const RELAY = path.join(ROOT, 'test', 'helpers', 'netns-relay.mjs');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Chromium's HTTP answers to the page's own API calls that the page handles and shows (a 401 before
 * signing in, a 403 the page explains): Chromium logs each as a console error, which says nothing
 * about the page. Every other console error fails the test.
 */
const ANSWERED = /^Failed to load resource: the server responded with a status of 4\d\d\b/;

export interface TestBrowser {
  browser: Browser;
  /** Whether Chromium runs in a network namespace of its own (else it shares the machine's: loudly said). */
  isolated: boolean;
  /** The console errors and uncaught page errors of every page since the last call. */
  takeErrors(): string[];
  close(): Promise<void>;
}

/**
 * Chromium for a browser test, in a network namespace of its own that holds only loopback: Docker
 * creating or removing a container's interface on this machine changes no network Chromium sees, so
 * its page loads are not aborted with ERR_NETWORK_CHANGED. It reaches each of `origins` (servers on
 * this machine's loopback) at the same URL as the test does, through a relay: a small process in
 * the namespace listens on that port and carries each connection over a Unix socket (the file
 * system is shared) to a relay in the test process, which dials the server. Where a namespace
 * cannot be made (not root, no unshare or ip), Chromium runs as it is, with a loud warning.
 *
 * Every context the browser opens reports console errors and uncaught page errors to `takeErrors`;
 * `failOnConsoleErrors` makes a test fail on any.
 */
export async function launchBrowser(origins: string[]): Promise<TestBrowser> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yard-browser-'));
  const relays: net.Server[] = [];
  const cleanup = () => {
    for (const relay of relays) relay.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let browser: Browser;
  const why = namespaceUnavailable();
  try {
    if (why) {
      console.error(`\n!!! BROWSER NOT ISOLATED: ${why}. Chromium shares this machine's network, and a container starting or stopping meanwhile can abort its page loads (ERR_NETWORK_CHANGED).\n`);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    } else {
      const pairs: string[] = [];
      for (const [i, origin] of [...new Set(origins.map((o) => new URL(o).host))].entries()) {
        const url = new URL(`http://${origin}`);
        const socketPath = path.join(dir, `relay-${i}.sock`);
        relays.push(await relayTo(socketPath, url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 80)));
        pairs.push(`${url.host}=${socketPath}`);
      }
      const wrapper = path.join(dir, 'chromium-in-netns');
      const inner = path.join(dir, 'in-netns.sh');
      const ready = path.join(dir, 'relay.ready');
      const log = path.join(dir, 'relay.log');
      // Chromium alone in a network namespace with loopback up, its relay started (and listening) first.
      writeFileSync(wrapper, `#!/bin/sh\nexec unshare --net -- /bin/sh ${sh(inner)} "$@"\n`);
      writeFileSync(
        inner,
        [
          'ip link set lo up || exit 97',
          `${sh(process.execPath)} ${sh(RELAY)} ${sh(ready)} ${pairs.map(sh).join(' ')} </dev/null >${sh(log)} 2>&1 3>&- 4>&- &`,
          `i=0; while [ ! -e ${sh(ready)} ]; do i=$((i + 1)); if [ $i -gt 500 ]; then cat ${sh(log)} >&2; exit 98; fi; sleep 0.02; done`,
          `exec ${sh(CHROMIUM)} "$@"`,
          '',
        ].join('\n'),
      );
      chmodSync(wrapper, 0o755);
      browser = await chromium.launch({ executablePath: wrapper, args: ARGS }).catch((error: Error) => {
        const relayLog = existsSync(log) ? readFileSync(log, 'utf8') : '';
        throw new Error(`Chromium in its own network namespace did not start: ${error.message}${relayLog ? `\nrelay: ${relayLog}` : ''}`);
      });
    }
  } catch (error) {
    cleanup();
    throw error;
  }

  const errors: string[] = [];
  const watched = new WeakSet<BrowserContext>();
  const watch = (context: BrowserContext) => {
    if (watched.has(context)) return context;
    watched.add(context);
    context.on('console', (message) => {
      if (message.type() === 'error' && !ANSWERED.test(message.text())) errors.push(`console error on ${message.location().url || message.page()?.url()}: ${message.text()}`);
    });
    context.on('weberror', (error) => errors.push(`uncaught on ${error.page()?.url()}: ${error.error().message}`));
    return context;
  };
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => watch(await newContext(options));
  return {
    browser,
    isolated: !why,
    takeErrors: () => errors.splice(0),
    async close() {
      await browser.close().catch(() => undefined);
      cleanup();
    },
  };
}

/** Fails the test (as its own assertion) when a page it drove logged a console error. */
export function failOnConsoleErrors(t: ExecutionContext, browser: TestBrowser | undefined): void {
  t.deepEqual(browser?.takeErrors() ?? [], [], 'no console errors in any page');
}

let probed: string | undefined | null = null;

/** Why Chromium cannot get a network namespace here, or undefined when it can (probed once). */
export function namespaceUnavailable(): string | undefined {
  if (probed !== null) return probed;
  try {
    execFileSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'pipe', timeout: 10_000 });
    probed = undefined;
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    probed = `cannot run it in a network namespace of its own (unshare --net, then ip link set lo up: ${stderr || (error as Error).message}; it needs root, util-linux and iproute2)`;
  }
  return probed;
}

/** The test's side of a relay: each connection on the Unix socket is carried to the server. */
function relayTo(socketPath: string, host: string, port: number): Promise<net.Server> {
  const server = net.createServer((inner) => splice(inner, net.connect(port, host)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

/** A word for /bin/sh, single-quoted. */
const sh = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
