import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { ApiError, describeCause, TransportError, YardClient } from '@trainyard/shared/client';
import { PromptError } from './lib/prompt.js';
import { ConfigFileError } from './lib/config-file.js';
import { escapeText } from './lib/escape.js';
import { NotLoggedInError, resolveIdentity, Session } from './lib/session.js';
import { Settings } from './lib/settings.js';
import { openTokenStore, type TokenStore } from './lib/token-store.js';

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof YardCommand)['baseFlags'] & T['flags']>;
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * Every `yard` command: the global flags (-m, -u, --json), the session in the design's auth
 * order, and one place that turns API and prompt failures into a one-line error.
 */
export abstract class YardCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  /** `user` (-u/--user) is "act as"; commands that target a user swap it for `as` (-u/--as): see targetUserBaseFlags. */
  static override baseFlags: {
    master: Interfaces.OptionFlag<string>;
    user?: Interfaces.OptionFlag<string | undefined>;
    as?: Interfaces.OptionFlag<string | undefined>;
  } = {
    master: Flags.string({
      char: 'm',
      env: 'YARD_MASTER',
      default: 'http://127.0.0.1:8080',
      summary: 'URL of the Trainyard master.',
      helpGroup: 'GLOBAL',
    }),
    user: Flags.string({
      char: 'u',
      env: 'YARD_USER',
      summary: 'Run this one command as USER (like sudo), without changing who is logged in.',
      helpGroup: 'GLOBAL',
    }),
  };

  /**
   * Set by commands whose own `--user` names whom they act on (`role assign --user carol`): for
   * them "act as" is `-u`/`--as` (see `targetUserBaseFlags`).
   */
  static targetsUser = false;

  protected flags!: CommandFlags<T>;
  protected args!: CommandArgs<T>;
  private settingsCache?: Settings;
  private storeCache?: TokenStore;
  private sessionCache?: Session;

  public override async init(): Promise<void> {
    await super.init();
    const ctor = this.ctor as typeof YardCommand;
    const { args, flags } = await this.parse({
      flags: ctor.flags,
      baseFlags: ctor.baseFlags,
      enableJsonFlag: ctor.enableJsonFlag,
      args: ctor.args,
      strict: ctor.strict,
    });
    this.flags = flags as CommandFlags<T>;
    this.args = args as CommandArgs<T>;
    this.flags.master = normalizeMaster(this.flags.master);
    if (this.flags.user !== undefined) this.flags.user = this.flags.user.trim().toLowerCase();
  }

  /** Whom this command acts as (`-u NAME`), whatever the command calls its own flags. */
  protected get actAs(): string | undefined {
    const value = (this.ctor as typeof YardCommand).targetsUser ? this.flags.as : this.flags.user;
    return value?.trim().toLowerCase();
  }

  protected get master(): string {
    return this.flags.master;
  }

  protected settings(): Settings {
    return (this.settingsCache ??= new Settings());
  }

  protected async tokenStore(): Promise<TokenStore> {
    return (this.storeCache ??= await openTokenStore());
  }

  /** An unauthenticated client (login). */
  protected anonymousClient(): YardClient {
    warnIfPlainHttp(this.master, (m) => process.stderr.write(`Warning: ${m}\n`));
    // Sent as User-Agent: `yard user sessions` shows it as the session's client.
    return new YardClient({ baseUrl: this.master, headers: { 'user-agent': `yard/${this.config.version} node/${process.versions.node}` } });
  }

  /** The API as whoever this command acts as (-u, else the logged-in user, else the default account). */
  protected async session(): Promise<Session> {
    if (this.sessionCache) return this.sessionCache;
    const identity = resolveIdentity(this.master, this.settings(), this.actAs);
    this.sessionCache = new Session(identity, await this.tokenStore(), this.anonymousClient());
    return this.sessionCache;
  }

  /**
   * Known failures print as one line, `Error: <message>`, and exit 1 (2 for usage errors);
   * with --json the same goes to stdout as `{"error": {"code", "message"}}`. Anything else is a
   * bug and keeps oclif's handling (its stack shows with DEBUG set).
   */
  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    const known = describeKnownError(error);
    if (!known) return super.catch(error);
    if (this.jsonEnabled()) this.logJson({ error: { code: known.code, message: known.message } });
    else process.stderr.write(`Error: ${escapeText(known.message)}${known.hint ? `\nHint: ${known.hint}` : ''}\n`);
    this.exit(known.exit);
  }
}

/** The global flags of a command whose own `--user` names a target: "act as" keeps `-u`, and is `--as` in full. */
export const targetUserBaseFlags = (() => {
  const { user: _actAs, ...rest } = YardCommand.baseFlags;
  return {
    ...rest,
    as: Flags.string({
      char: 'u',
      env: 'YARD_USER',
      summary: 'Run this one command as USER (like sudo), without changing who is logged in.',
      helpGroup: 'GLOBAL',
    }),
  };
})();

/** A command's own failure with a stable code, printed like the master's errors. */
export class CommandFailure extends Error {
  override name = 'CommandFailure';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface KnownError {
  code: string;
  message: string;
  exit: number;
  hint?: string;
}

function describeKnownError(error: Error & { oclif?: { exit?: number } }): KnownError | undefined {
  if (error instanceof ApiError) return { code: error.code, message: error.message, exit: 1 };
  if (error instanceof TransportError) return { ...describeTransportError(error), exit: 1 };
  if (error instanceof CommandFailure) return { code: error.code, message: error.message, exit: 1 };
  if (error instanceof NotLoggedInError) return { code: 'NOT_LOGGED_IN', message: error.message, exit: 1 };
  if (error instanceof PromptError) return { code: 'NO_INPUT', message: error.message, exit: 1 };
  if (error instanceof ConfigFileError) return { code: 'CONFIG_FILE', message: error.message, exit: 1 };
  if (error instanceof Errors.CLIError && error.oclif?.exit !== undefined && error.oclif.exit !== 0) {
    const usage = error.oclif.exit === 2;
    return {
      code: usage ? 'USAGE' : 'CLI_ERROR',
      message: oneLine(error.message),
      exit: error.oclif.exit,
      ...(usage ? { hint: 'see the command\'s --help for its flags and an example' } : {}),
    };
  }
  return undefined;
}

/** Node's codes for a TLS certificate it does not accept. */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The short reason there was no usable answer: `ECONNREFUSED`, a certificate's code, `HTTP 502`. */
export function transportReason(error: TransportError): string {
  return error.kind === 'unreachable' ? describeCause(error.cause) : `HTTP ${error.status}`;
}

/** No usable answer from the master, in words that say what to check. */
function describeTransportError(error: TransportError): { code: string; message: string } {
  if (error.kind === 'unreachable') {
    const reason = transportReason(error);
    if (UNTRUSTED_CERTIFICATE.has(reason)) {
      const what = reason === 'ERR_TLS_CERT_ALTNAME_INVALID' ? 'is not for this host name' : 'is not trusted here';
      return {
        code: 'UNREACHABLE',
        message:
          `the certificate of the master at ${error.baseUrl} ${what} (${reason}): for a self-signed or private CA's certificate, ` +
          'point NODE_EXTRA_CA_CERTS at its PEM file',
      };
    }
    return {
      code: 'UNREACHABLE',
      message: `cannot reach the master at ${error.baseUrl} (${reason}): is it running? Point -m/--master or YARD_MASTER at it`,
    };
  }
  if (error.kind === 'not_json') {
    return { code: 'BAD_RESPONSE', message: `the master at ${error.baseUrl} sent a response that is not JSON (HTTP ${error.status})` };
  }
  return { code: 'BAD_RESPONSE', message: `the master answered HTTP ${error.status}` };
}

/** oclif's parse errors span lines ("Parsing --x", "See more help..."): keep what a person needs. */
function oneLine(message: string): string {
  const noise = [/^See more help with --help$/, /^The following errors occurred:?$/, /^Parsing --\S+$/];
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !noise.some((re) => re.test(line)))
    .join('; ');
}

function normalizeMaster(value: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Errors.CLIError(`--master: '${value}' is not a URL such as http://127.0.0.1:8080`, { exit: 2 });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Errors.CLIError(`--master: '${value}' must be an http:// or https:// URL`, { exit: 2 });
  }
  return url.origin;
}

function warnIfPlainHttp(master: string, warn: (message: string) => void): void {
  const url = new URL(master);
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !url.hostname.startsWith('127.')) {
    warn(`${master} is plain HTTP on the network: passwords and tokens travel unencrypted. Use https://.`);
  }
}
