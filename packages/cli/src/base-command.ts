import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { ApiError, DEFAULT_REQUEST_TIMEOUT_MS, describeCause, formatSeconds, TransportError, YardClient, type AnswerInfo } from '@trainyard/shared/client';
import { API_VERSION, formatVersion, versionsConflict, type MasterVersion } from '@trainyard/shared/constants';
import { parseDurationMs } from './lib/duration.js';
import { EXIT } from './lib/exit-status.js';
import { InterruptedError, PromptError } from './lib/prompt.js';
import { ConfigFileError } from './lib/config-file.js';
import { escapeText } from './lib/escape.js';
import { colourOn, errorLine } from './lib/colour.js';
import { nodeFetch } from './lib/node-fetch.js';
import { parseFields, renderOutput, type OutputFormat, type Printable } from './lib/output.js';
import { NotLoggedInError, resolveIdentity, Session } from './lib/session.js';
import { Settings, SettingsFileError } from './lib/settings.js';
import { openTokenStore, type TokenStore } from './lib/token-store.js';

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof YardCommand)['baseFlags'] & T['flags']>;
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
/** The master when neither -m, YARD_MASTER nor a context names one: the quick start's. */
export const DEFAULT_MASTER = 'http://127.0.0.1:8080';

/**
 * Every `yard` command: the global flags (-m, -u, --json), the session in the design's auth
 * order, and one place that turns API and prompt failures into a one-line error.
 */
export abstract class YardCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  /** `user` (-u/--user) is "act as"; commands that target a user swap it for `as` (-u/--as): see targetUserBaseFlags. */
  static override baseFlags: {
    master: Interfaces.OptionFlag<string | undefined>;
    context: Interfaces.OptionFlag<string | undefined>;
    color: Interfaces.BooleanFlag<boolean | undefined>;
    'request-timeout': Interfaces.OptionFlag<string>;
    user?: Interfaces.OptionFlag<string | undefined>;
    as?: Interfaces.OptionFlag<string | undefined>;
  } = {
    master: Flags.string({
      char: 'm',
      env: 'YARD_MASTER',
      summary: `URL of the Trainyard master (default: the current context's, else ${DEFAULT_MASTER}).`,
      helpGroup: 'GLOBAL',
    }),
    context: Flags.string({
      env: 'YARD_CONTEXT',
      summary: 'Use the master of this context (`yard context list`) for this command; -m and YARD_MASTER win over it.',
      helpGroup: 'GLOBAL',
    }),
    color: Flags.boolean({
      allowNo: true,
      summary: 'Colour states and errors on a terminal (the default); --no-color never (so does NO_COLOR).',
      helpGroup: 'GLOBAL',
    }),
    // Not --timeout: the commands that wait for a task have their own (how long to wait for it).
    'request-timeout': Flags.string({
      env: 'YARD_REQUEST_TIMEOUT',
      default: `${DEFAULT_REQUEST_TIMEOUT_MS / 1000}s`,
      summary: 'Give up on a request the master has not answered in this long (30s, 2m, 500ms; 0: never).',
      description: 'Long polls (following logs, waiting for a task) are held open on purpose and get their own bounded wait on top.',
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
  /** Every positional argument, in order: the ids of `kill 4 5` (a command with `strict = false`). */
  protected positionals: unknown[] = [];
  private settingsCache?: Settings;
  private masterCache?: string;
  private storeCache?: TokenStore;
  private sessionCache?: Session;
  private requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;
  /** The master's last answer in this command (for an answer yard does not understand), and whether a version skew was said. */
  private lastAnswer?: AnswerInfo;
  protected skewSaid = false;

  public override async init(): Promise<void> {
    await super.init();
    const ctor = this.ctor as typeof YardCommand;
    const { args, flags, argv } = await this.parse({
      flags: ctor.flags,
      baseFlags: ctor.baseFlags,
      enableJsonFlag: ctor.enableJsonFlag,
      args: ctor.args,
      strict: ctor.strict,
    });
    this.flags = flags as CommandFlags<T>;
    this.args = args as CommandArgs<T>;
    this.positionals = argv;
    // NO_COLOR is what every part of yard (and oclif) looks at.
    if (this.flags.color === false) process.env.NO_COLOR = '1';
    // A URL given on the command line is checked at once; the one a context gives, when it is used.
    if (this.flags.master !== undefined) this.flags.master = normalizeMaster(this.flags.master);
    this.requestTimeoutMs = parseRequestTimeout(this.flags['request-timeout']);
    if (this.flags.user !== undefined) this.flags.user = this.flags.user.trim().toLowerCase();
  }

  /** Whom this command acts as (`-u NAME`), whatever the command calls its own flags. */
  protected get actAs(): string | undefined {
    const value = (this.ctor as typeof YardCommand).targetsUser ? this.flags.as : this.flags.user;
    return value?.trim().toLowerCase();
  }

  /** The master this command talks to: -m (or YARD_MASTER), else --context's (or YARD_CONTEXT's), else the current context's, else the default. */
  protected get master(): string {
    return (this.masterCache ??= normalizeMaster(this.resolveMaster()));
  }

  private resolveMaster(): string {
    if (this.flags.master) return this.flags.master;
    const named = this.flags.context?.trim();
    if (named) {
      const context = this.settings().contexts()[named];
      if (!context) {
        const names = Object.keys(this.settings().contexts());
        throw new CommandFailure('NO_SUCH_CONTEXT', `--context: there is no context '${named}' (${names.length ? `there are: ${names.join(', ')}` : 'none yet: `yard context add NAME URL`'})`, EXIT.USAGE);
      }
      return context.master;
    }
    return this.settings().currentContext()?.master ?? DEFAULT_MASTER;
  }

  /** How `-o` asked for output (table when not given, or on commands without it). */
  protected get outputFormat(): OutputFormat {
    return (this.flags as { output?: OutputFormat }).output ?? 'table';
  }

  /**
   * Prints what a list or show command found, as `-o` and `--fields` ask (see lib/output.ts).
   * With --json nothing: oclif prints the command's return value.
   */
  protected async print<R>(what: Printable<R>): Promise<void> {
    const text = await renderOutput(what, {
      format: this.jsonEnabled() ? 'table' : this.outputFormat,
      fields: parseFields((this.flags as { fields?: string }).fields),
      colour: this.colour,
    });
    // With --json the table is made all the same and not printed: an answer of a shape yard does
    // not understand fails the same way whatever the output (see describeUnexpected).
    if (text !== '' && !this.jsonEnabled()) this.log(text);
  }

  /** Whether stdout gets colours (a terminal, and colour not turned off). */
  protected get colour(): boolean {
    return colourOn(process.stdout);
  }

  /** Whether a note for people (the "showing the newest 50" hint) belongs on stderr: only beside a table. */
  protected get forPeople(): boolean {
    return !this.jsonEnabled() && (this.outputFormat === 'table' || this.outputFormat === 'wide');
  }

  protected settings(): Settings {
    return (this.settingsCache ??= new Settings());
  }

  protected async tokenStore(): Promise<TokenStore> {
    return (this.storeCache ??= await openTokenStore());
  }

  /** This yard's release and the API version it speaks. */
  protected get ownVersion(): MasterVersion {
    return { version: this.config.version, apiVersion: API_VERSION };
  }

  /** An unauthenticated client (login). */
  protected anonymousClient(): YardClient {
    warnIfPlainHttp(this.master, (m) => process.stderr.write(`Warning: ${m}\n`));
    return new YardClient({
      baseUrl: this.master,
      // Sent as User-Agent: `yard user sessions` shows it as the session's client.
      headers: { 'user-agent': `yard/${this.config.version} node/${process.versions.node}` },
      requestTimeoutMs: this.requestTimeoutMs,
      onAnswer: (answer) => this.noteAnswer(answer),
      fetch: nodeFetch,
    });
  }

  /** Every answer names the master's version: a difference that matters is said once, on stderr. */
  private noteAnswer(answer: AnswerInfo): void {
    this.lastAnswer = answer;
    if (this.skewSaid || !answer.master || !versionsConflict(this.ownVersion, answer.master)) return;
    this.skewSaid = true;
    process.stderr.write(
      `Warning: this yard is ${formatVersion(this.ownVersion)} and the master at ${this.master} is ${formatVersion(answer.master)}: ` +
        "some answers may not be understood; use a yard of the master's version\n",
    );
  }

  /**
   * An error no part of yard expected (a TypeError reading an answer): when the master answered in
   * this command, the likely cause is an answer of another shape, from a master of another version.
   * Said as such, with both versions, instead of a stack trace (DEBUG=1 keeps the trace).
   */
  private async describeUnexpected(error: Error): Promise<KnownError | undefined> {
    const answer = this.lastAnswer;
    if (!answer || !(error instanceof TypeError || error instanceof RangeError)) return undefined;
    if (process.env.DEBUG) process.stderr.write(`${error.stack ?? String(error)}\n`);
    const master = answer.master ?? (await this.askVersion());
    const mine = `${this.ownVersion.version}, API ${this.ownVersion.apiVersion}`;
    const theirs = master ? `the master is ${formatVersion(master)}` : 'the master does not say its version (it is older than GET /api/v1/version, or not a Trainyard master)';
    const bug = master !== undefined && master.version === this.ownVersion.version && master.apiVersion === this.ownVersion.apiVersion;
    return {
      code: 'BAD_RESPONSE',
      exit: EXIT.ERROR,
      message:
        `the master at ${this.master} answered ${answer.method} ${answer.path} in a shape this yard (${mine}) does not understand; ${theirs}` +
        (bug ? ': the same version, so this is a bug in yard (DEBUG=1 shows where; please report it)' : ''),
      ...(bug ? {} : { hint: "use a yard of the master's version" }),
    };
  }

  /** `GET /api/v1/version`, for an error message: undefined when the master cannot or will not say. */
  private async askVersion(): Promise<MasterVersion | undefined> {
    try {
      const answer: unknown = await new YardClient({ baseUrl: this.master, requestTimeoutMs: 5000, fetch: nodeFetch }).call('version');
      const v = answer as Partial<MasterVersion> | null;
      return v && typeof v.version === 'string' && Number.isInteger(v.apiVersion) ? { version: v.version, apiVersion: v.apiVersion! } : undefined;
    } catch {
      return undefined;
    }
  }

  /** The API as whoever this command acts as (-u, else the logged-in user, else the default account). */
  protected async session(): Promise<Session> {
    if (this.sessionCache) return this.sessionCache;
    const identity = resolveIdentity(this.master, this.settings(), this.actAs);
    this.sessionCache = new Session(identity, await this.tokenStore(), this.anonymousClient());
    return this.sessionCache;
  }

  /** A failure yard knows, in the words and with the code it would print; undefined for anything else. */
  protected explain(error: Error): { code: string; message: string } | undefined {
    const known = describeKnownError(error, this.requestTimeoutMs);
    return known && { code: known.code, message: known.message };
  }

  /**
   * Known failures print as one line, `Error: <message>`, and exit 1 (2 for usage errors);
   * with --json the same goes to stdout as `{"error": {"code", "message"}}`. Anything else is a
   * bug and keeps oclif's handling (its stack shows with DEBUG set).
   */
  protected override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    if (error instanceof InterruptedError) {
      // Ctrl-C at a prompt: what a shell expects of an interrupted program, and nothing more.
      process.stderr.write('\n');
      this.exit(EXIT.INTERRUPTED);
    }
    const known = describeKnownError(error, this.requestTimeoutMs) ?? (await this.describeUnexpected(error));
    if (!known) return super.catch(error);
    // The master refused something of a master of another version: say so beside its reason.
    const skew = this.lastAnswer?.master && versionsConflict(this.ownVersion, this.lastAnswer.master) && error instanceof ApiError;
    const hint = known.hint ?? (skew ? `the master is ${formatVersion(this.lastAnswer!.master!)}, this yard ${formatVersion(this.ownVersion)}` : undefined);
    if (this.jsonEnabled()) this.logJson({ error: { code: known.code, message: known.message } });
    else process.stderr.write(errorLine(escapeText(known.message), hint));
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

/** A command's own failure with a stable code, printed like the master's errors; exits `exit` (1 unless said). */
export class CommandFailure extends Error {
  override name = 'CommandFailure';
  constructor(
    readonly code: string,
    message: string,
    readonly exit: number = EXIT.ERROR,
  ) {
    super(message);
  }
}

/** A task that was waited for ended without getting there: said as a failure, exiting with the task's exit status. */
export class TaskEndedFailure extends CommandFailure {
  override name = 'TaskEndedFailure';
  constructor(message: string, exit: number) {
    super('TASK_ENDED', message, exit);
  }
}

interface KnownError {
  code: string;
  message: string;
  exit: number;
  hint?: string;
}

function describeKnownError(error: Error & { oclif?: { exit?: number } }, requestTimeoutMs: number): KnownError | undefined {
  if (error instanceof ApiError) return { code: error.code, message: error.message, exit: 1 };
  if (error instanceof TransportError) return { ...describeTransportError(error, requestTimeoutMs), exit: 1 };
  if (error instanceof CommandFailure) return { code: error.code, message: error.message, exit: error.exit };
  if (error instanceof NotLoggedInError) return { code: 'NOT_LOGGED_IN', message: error.message, exit: 1 };
  if (error instanceof PromptError) return { code: 'NO_INPUT', message: error.message, exit: 1 };
  if (error instanceof ConfigFileError) return { code: 'CONFIG_FILE', message: error.message, exit: 1 };
  if (error instanceof SettingsFileError) return { code: 'SETTINGS_FILE', message: error.message, exit: 1 };
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
function describeTransportError(error: TransportError, requestTimeoutMs: number): { code: string; message: string } {
  if (error.kind === 'timeout') {
    const longPoll = error.timeoutMs !== undefined && error.timeoutMs > requestTimeoutMs ? ` (a long poll: ${formatSeconds(error.timeoutMs - requestTimeoutMs)} of it on purpose)` : '';
    return {
      code: 'TIMEOUT',
      message:
        `the master at ${error.baseUrl} accepted the request but did not answer within ${formatSeconds(error.timeoutMs ?? requestTimeoutMs)}${longPoll}: ` +
        'is it overloaded or stuck? Allow longer with --request-timeout or YARD_REQUEST_TIMEOUT',
    };
  }
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

/** `--request-timeout`: `30s`, `2m`, `500ms`, or seconds as a number; 0 for none. */
function parseRequestTimeout(value: string): number {
  const ms = parseDurationMs(value);
  if (ms === undefined) throw new Errors.CLIError(`--request-timeout: '${value}' is not a duration such as 30s, 2m or 500ms (0: never)`, { exit: 2 });
  return ms;
}

export function normalizeMaster(value: string): string {
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

export function warnIfPlainHttp(master: string, warn: (message: string) => void): void {
  const url = new URL(master);
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !url.hostname.startsWith('127.')) {
    warn(`${master} is plain HTTP on the network: passwords and tokens travel unencrypted. Use https://.`);
  }
}
