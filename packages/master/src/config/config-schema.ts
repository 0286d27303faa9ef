import proxyAddr from 'proxy-addr';
import { FilterParser } from 'ldapts';
import { z } from 'zod';
import { DEFAULT_POOL, groupPathSchema, parseByteSize, POOL_NAME_PATTERN, roleNameSchema, unixIdentitySchema } from '@trainyard/shared';
import { LOG_FORMATS } from '@trainyard/shared/logger';
import { policySchema } from '../admission/policy-schema.js';
import { durationSchema } from './duration.js';

const byteSizeSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const size = parseByteSize(value);
  if (size === undefined || size <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a size such as "1MiB" or "512KiB" (KiB/MiB are 1024-based, KB/MB 1000-based)` });
    return z.NEVER;
  }
  return size;
});

/** `https://yard.example.com`: the URL people and agents use to reach the master; no path. */
const publicUrlSchema = z.string().transform((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a URL such as "https://yard.example.com"` });
    return z.NEVER;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username) {
    ctx.addIssue({ code: 'custom', message: `"${value}" must be an http:// or https:// URL with no path, such as "https://yard.example.com"` });
    return z.NEVER;
  }
  return url.origin;
});

function isProxyAddress(value: string): boolean {
  try {
    proxyAddr.compile(value);
    return true;
  } catch {
    return false;
  }
}

const oneOrMany = <T extends z.ZodType>(schema: T) =>
  z.union([schema, z.array(schema)]).transform((value) => (Array.isArray(value) ? value : [value]) as Array<z.output<T>>);

const ldapUrlSchema = z
  .string()
  .regex(/^ldaps?:\/\/[^\s/?#]+\/?$/i, 'must be an ldap:// or ldaps:// URL such as ldap://ldap.example.org:389');

/** A filter written by the admin, checked once at start; the login name is never put into it. */
const ldapFilterSchema = z.string().superRefine((value, ctx) => {
  try {
    FilterParser.parseString(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not an LDAP filter such as "(objectClass=posixAccount)": ${(error as Error).message}` });
  }
});

const ldapAttributeSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'must be an LDAP attribute name such as uidNumber');

const ldapSchema = z
  .strictObject({
    /** One server, or several tried in order when one does not answer. */
    url: ldapUrlSchema.optional(),
    urls: z.array(ldapUrlSchema).min(1).optional(),
    /** Upgrade ldap:// connections with StartTLS; ldaps:// is TLS from the start. */
    starttls: z.boolean().default(false),
    /** CA certificate(s) to trust for ldaps:// and StartTLS (PEM; relative to master.yaml). */
    ca_file: z.string().min(1).optional(),
    /** The service account that searches for users; without it the search is anonymous. */
    bind_dn: z.string().min(1).optional(),
    /** Its password: from a file (relative to master.yaml) or an environment variable, never in this file. */
    bind_password_file: z.string().min(1).optional(),
    bind_password_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
    search_base: z.string().min(1),
    /** Which entries are people; the login name is matched on login_attribute, escaped, and ANDed with it. */
    user_filter: ldapFilterSchema.default('(objectClass=posixAccount)'),
    login_attribute: ldapAttributeSchema.default('uid'),
    /** Where the agent-user link of an auto-provisioned user comes from (null: no link). */
    attributes: z
      .strictObject({
        uid_number: ldapAttributeSchema.default('uidNumber'),
        gid_number: ldapAttributeSchema.default('gidNumber'),
        user: ldapAttributeSchema.default('uid'),
      })
      .nullable()
      .prefault({}),
    /** Group membership, read from group entries; `map` turns directory groups into Trainyard groups. */
    groups: z
      .strictObject({
        search_base: z.string().min(1),
        filter: ldapFilterSchema.default('(objectClass=posixGroup)'),
        name_attribute: ldapAttributeSchema.default('cn'),
        /** memberUid holds login names ("name"); member and uniqueMember hold DNs ("dn"). */
        member_attribute: ldapAttributeSchema.default('memberUid'),
        member_value: z.enum(['name', 'dn']).default('name'),
        gid_attribute: ldapAttributeSchema.default('gidNumber'),
        /** Directory group name -> Trainyard group path (`research/vision`). */
        map: z.record(z.string().min(1), groupPathSchema).default({}),
      })
      .optional(),
    connect_timeout: durationSchema.default(5_000),
    /** For each LDAP operation. */
    timeout: durationSchema.default(10_000),
  })
  .superRefine((ldap, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if ((ldap.url === undefined) === (ldap.urls === undefined)) issue('url', 'give either url or urls');
    const urls = ldap.urls ?? (ldap.url ? [ldap.url] : []);
    if (ldap.starttls && urls.some((url) => /^ldaps:/i.test(url))) {
      issue('starttls', 'ldaps:// is TLS already: use ldap:// URLs with starttls, or ldaps:// without it');
    }
    if (ldap.bind_password_file && ldap.bind_password_env) {
      issue('bind_password_file', 'give bind_password_file or bind_password_env, not both');
    }
    if (ldap.bind_dn && !ldap.bind_password_file && !ldap.bind_password_env) {
      issue('bind_dn', 'needs bind_password_file or bind_password_env');
    }
  })
  .transform(({ url, urls, ...rest }) => ({ ...rest, urls: urls ?? [url!] }));

const authSchema = z
  .strictObject({
    ldap: ldapSchema.optional(),
    pam: z
      .strictObject({
        /** The PAM service: /etc/pam.d/<service> on the master's host. */
        service: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a PAM service name such as trainyard').default('trainyard'),
      })
      .optional(),
    file: z
      .strictObject({
        /** An htpasswd-style file (bcrypt, apr1 or {SHA} lines); relative to master.yaml. */
        path: z.string().min(1),
      })
      .optional(),
    /** Create a user on their first successful login through this backend. */
    auto_provision: z
      .strictObject({
        backend: z.enum(['ldap', 'pam', 'file'], { error: 'must be ldap, pam or file' }),
      })
      .optional(),
  })
  .superRefine((auth, ctx) => {
    const backend = auth.auto_provision?.backend;
    if (backend && !auth[backend]) {
      ctx.addIssue({ code: 'custom', path: ['auto_provision', 'backend'], message: `${backend} is not configured: add auth.${backend}` });
    }
  });

const poolDescription = z.string().max(256).optional();

/**
 * One pool of `pools:`: the resource manager that runs its tasks, and that manager's settings.
 * Every manager's shape is accepted here; one this build does not have stops the master at start
 * (resource-managers/pools-from-config.ts), saying so.
 */
const poolSchema = z.discriminatedUnion(
  'manager',
  [
    /** Trainyard's own agents: those started with `yard-agent --pool <name>`. */
    z.strictObject({ manager: z.literal('agents'), description: poolDescription }),
    /** A Slurm cluster through slurmrestd (JWT): one partition (and account) of it. */
    z.strictObject({
      manager: z.literal('slurm'),
      description: poolDescription,
      /** slurmrestd's URL, such as http://slurm-head:6820. */
      rest_url: publicUrlSchema,
      /** The key slurmctld signs JWTs with (AuthAltParameters jwt_key=...), relative to master.yaml: the master mints each job's token as its user. */
      jwt_key_file: z.string().min(1),
      partition: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a Slurm partition name'),
      account: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a Slurm account name').optional(),
      /** How a task's image runs inside the job: none (directly on the node, as its uid), or a rootless OCI runtime. */
      container: z.enum(['none', 'runc', 'podman'], { error: 'must be none, runc or podman' }).default('none'),
      /** The user the master's own slurmrestd calls run as (root, or SlurmUser); a submission names the task's user. */
      token_user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/i, 'must be a user name').default('root'),
      /** How the master knows the nodes' users: shared (the master's host resolves the same users) or verify (submit held, compare, release). */
      users: z.enum(['shared', 'verify'], { error: 'must be shared or verify' }).default('shared'),
      /** Where jobs start and write their own output, on the nodes. */
      job_dir: z.string().startsWith('/', 'must be an absolute path').default('/tmp'),
      /** The job's PATH (a clean one by default). */
      path: z.string().min(1).optional(),
      /** How a job starts the one-shot agent on the nodes (default: yard-agent on the job's PATH). */
      agent_command: z.string().min(1).optional(),
      /** Where the one-shot agents reach the master from the nodes (default: http.public_url). */
      master_url: publicUrlSchema.optional(),
    }),
  ],
  { error: 'manager must be agents or slurm' },
);
export type PoolConfig = z.output<typeof poolSchema>;

/** Uids below this belong to machines' own accounts; no group's range starts there. */
const MIN_UID_RANGE_BASE = 65536;

/**
 * `master.yaml`: one schema, every default here. Unknown keys are errors, so a typo
 * stops the master instead of being silently ignored.
 */
export const masterConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /**
       * A second port, on the same host and with the same TLS, that serves only tasks' services
       * (`/proxy/<id>/`): their own origin, so a notebook's scripts cannot use the viewer's session
       * on the master's API. Unset: `port` + 1 (any free port when `port` is 0), unless
       * `http.services_url` says where a reverse proxy serves them, or an admin turned the services
       * origin off (`http.unsafe_services_on_master_origin`). See `resolveServicesOrigin`.
       */
      services_port: z.number().int().min(0).max(65535).optional(),
      /** HTTPS (HTTP/1.1 over TLS) with these PEM files, relative to master.yaml; plain HTTP without. */
      tls: z
        .strictObject({
          cert: z.string().min(1),
          key: z.string().min(1),
        })
        .optional(),
    })
    .prefault({}),
  db: z
    .strictObject({
      /** Relative paths are resolved against the directory of master.yaml. */
      path: z.string().min(1).default('./data/trainyard.db'),
      /** PostgreSQL instead of the SQLite file (env YARD_DB_URL); when set, `path` is not used. */
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\/\S+$/i, 'must be a postgres://user:password@host:port/database URL')
        .optional(),
      /** PostgreSQL: how many connections the master keeps to the database. */
      pool_size: z.number().int().min(2).max(500).default(10),
    })
    .prefault({}),
  security: z
    .strictObject({
      session_ttl: durationSchema.default(30 * 24 * 3600 * 1000),
      /** Who tasks run as when their owner has no agent-user link. */
      default_task: unixIdentitySchema.default({ user: 'root', uid: 0, group: 'root', gid: 0 }),
      /** Admin's password on first start; blank when unset, as in PEDL. */
      initial_admin_password: z.string().optional(),
      /** The role every new user is given; it must exist when the master starts. */
      default_role: roleNameSchema.default('user'),
      password_policy: z
        .strictObject({
          min_length: z.number().int().min(0).max(1024).default(0),
        })
        .prefault({}),
      login_throttle: z
        .strictObject({
          max_failures_per_user: z.number().int().min(1).default(5),
          max_failures_per_address: z.number().int().min(1).default(30),
          window: durationSchema.default(15 * 60 * 1000),
        })
        .prefault({}),
      /**
       * Where `yard group set --uid-range auto` takes groups' uid ranges from: blocks of `size`
       * uids from `base` up (OpenShift's defaults). Above every uid a machine's own accounts use.
       */
      uid_ranges: z
        .strictObject({
          base: z
            .number()
            .int()
            .min(MIN_UID_RANGE_BASE, `must be at least ${MIN_UID_RANGE_BASE}: lower uids belong to machines' own accounts (and nobody, 65534)`)
            .max(4_000_000_000),
          size: z.number().int().min(1).max(1_000_000),
        })
        .prefault({ base: 1_000_000_000, size: 10_000 }),
    })
    .superRefine((security, ctx) => {
      const { uid } = security.default_task;
      if (uid >= security.uid_ranges.base) {
        ctx.addIssue({
          code: 'custom',
          path: ['uid_ranges', 'base'],
          message: `must lie above security.default_task's uid ${uid}: tasks of people outside any group run as it, and a group's uid range must never hold it`,
        });
      }
    })
    .prefault({}),
  agents: z
    .strictObject({
      /** How often agents say they are alive. */
      heartbeat_interval: durationSchema.default(5_000),
      /** An agent silent this long is lost, and its tasks with it. */
      lost_timeout: durationSchema.default(20_000),
      /** An assignment not acknowledged this long goes back to the queue. */
      lease_timeout: durationSchema.default(30_000),
      /** How long a running task gets between SIGTERM and SIGKILL when killed. */
      kill_grace: durationSchema.default(10_000),
      /** Moved to the admission policy (0.3): a file that still has it says where. */
      allow_pull: z
        .unknown()
        .refine(() => false, 'moved: pulling is now policy.system.images.pull (never, if_missing or always), which groups and users may override; remove agents.allow_pull')
        .optional(),
      /**
       * A token file for agents on this machine (relative to master.yaml): created with a random
       * token on first start if missing; `yard-agent --token-file` reads the same file.
       */
      token_file: z.string().min(1).optional(),
    })
    .prefault({}),
  tasks: z
    .strictObject({
      /** Images for tasks whose config names none (experiments must name theirs). */
      images: z
        .strictObject({
          command: z.string().min(1).default('python:3.11-slim'),
          notebook: z.string().min(1).default('jupyter/base-notebook:latest'),
          tensorboard: z.string().min(1).default('tensorflow/tensorflow:latest'),
          shell: z.string().min(1).default('python:3.11-slim'),
        })
        .prefault({}),
      /** The container port a notebook or tensorboard serves on when its config names none (the policy's default ports.allow). */
      ports: z
        .strictObject({
          notebook: z.number().int().min(1).max(65535).default(8888),
          tensorboard: z.number().int().min(1).max(65535).default(6006),
        })
        .prefault({}),
      /** Notebooks, TensorBoards and shells with no proxied traffic and no open shell for this long are stopped (KILLED); unset: never. */
      idle_timeout: durationSchema.optional(),
      /** How long an agent has to dial back a stream the master asked for (a proxied connection, a shell). */
      dial_timeout: durationSchema.default(15_000),
      /** How long before a quota's max_runtime kills a task its log says so. */
      runtime_warning: durationSchema.default(5 * 60 * 1000),
    })
    .prefault({}),
  scheduler: z
    .strictObject({
      /**
       * Which queued task an agent gets: `fair_share` prefers owners with less recent usage (then the
       * oldest task), `fifo` takes the oldest task that fits. Quotas apply either way.
       */
      policy: z.enum(['fifo', 'fair_share']).default('fair_share'),
      fair_share: z
        .strictObject({
          /** Usage counts half as much after this long (Slurm's PriorityDecayHalfLife). */
          half_life: durationSchema.default(7 * 24 * 3600 * 1000),
          /** What one GPU-second weighs against one CPU-second. */
          gpu_weight: z.number().min(0).max(1_000_000).default(10),
        })
        .prefault({}),
    })
    .prefault({}),
  /**
   * Resource pools, by name: each runs its tasks on one resource manager. By default one pool,
   * `default`, of the agents that name no other.
   */
  pools: z
    .record(z.string().regex(POOL_NAME_PATTERN, 'pool names are 1-64 characters of a-z, 0-9, ".", "_" or "-"'), poolSchema)
    .refine((pools) => Object.keys(pools).length > 0, 'name at least one pool (the default is {default: {manager: agents}})')
    .default({ [DEFAULT_POOL]: { manager: 'agents' } }),
  /** Where tasks go that name no pool and whose group names none; one of `pools`. */
  default_pool: z.string().default(DEFAULT_POOL),
  /** The admission policy: what tasks may ask for (see admission/policy-schema.ts). */
  policy: policySchema,
  http: z
    .strictObject({
      body_limit: byteSizeSchema.default(1024 * 1024),
      /**
       * Where people reach the master (one URL or a list), e.g. behind a proxy: requests must name
       * one of these hosts (or a loopback name, or an IP address) in their Host header, and browser
       * changes must come from one of these origins or the request's own.
       */
      public_url: oneOrMany(publicUrlSchema).default([]),
      /**
       * Proxies whose X-Forwarded-For/-Proto/-Host are believed: addresses, CIDRs, or proxy-addr's
       * names `loopback`, `linklocal`, `uniquelocal`. Empty: the headers are ignored.
       */
      trust_proxy: oneOrMany(z.string().min(1).refine(isProxyAddress, 'must be an IP address, a CIDR such as "10.0.0.0/8", or one of loopback, linklocal, uniquelocal')).default([]),
      /** The built web UI (packages/web/dist by default); relative to master.yaml. */
      web_root: z.string().min(1).optional(),
      /**
       * Where browsers reach tasks' services when that is not `listen.services_port` on the host
       * they reach the master by (a reverse proxy forwarding this origin to the master). Its host
       * must get the master's session cookie: the master's host name with another port.
       */
      services_url: publicUrlSchema.optional(),
      /**
       * UNSAFE: serve tasks' services on the master's own origin, the old default. A notebook's
       * scripts then run as the master's pages: whoever opens someone's notebook (an admin) lets
       * that notebook's code call the API with their session (create users, change roles, run
       * tasks as them). Only for a cluster where people never open notebooks that are not their own.
       */
      unsafe_services_on_master_origin: z.boolean().default(false),
    })
    .prefault({}),
  /** Where passwords are checked besides Trainyard's own store (each user names one). */
  auth: authSchema.prefault({}),
  /** Prometheus `/metrics`: who may scrape it. */
  metrics: z
    .strictObject({
      /** Requests from this machine (loopback, and not forwarded by a proxy outside http.trust_proxy) need no token. */
      loopback: z.boolean().default(true),
      /**
       * A bearer token for scrapes from elsewhere (relative to master.yaml): created with a random
       * token on first start if missing; give Prometheus the same file (`authorization: {credentials_file: ...}`).
       */
      token_file: z.string().min(1).optional(),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** `auto`: human-readable lines on a terminal, JSON lines otherwise. */
      format: z.enum(LOG_FORMATS).default('auto'),
    })
    .prefault({}),
});

export type MasterConfig = z.output<typeof masterConfigSchema>;

/**
 * What one section cannot say alone: where tasks' services are served, never on the master's own
 * origin unless the admin says so. Fills in `listen.services_port`'s default: `port` + 1, or 0 (any
 * free port) when `port` is 0, unless `http.services_url` names a reverse proxy's origin or
 * `http.unsafe_services_on_master_origin` turns the services origin off.
 */
export function resolveServicesOrigin(config: MasterConfig, issue: (path: string, message: string) => void): void {
  const { listen, http } = config;
  const url = http.services_url;
  if (http.unsafe_services_on_master_origin) {
    if (listen.services_port !== undefined) issue('http.unsafe_services_on_master_origin', 'cannot be set with listen.services_port: choose one');
    if (url !== undefined) issue('http.unsafe_services_on_master_origin', 'cannot be set with http.services_url: choose one');
    return;
  }
  if (listen.services_port === undefined && url === undefined) {
    if (listen.port === 65535) {
      issue('listen.services_port', "tasks' services are served on listen.port + 1 unless this says where: 65535 has no port after it");
      return;
    }
    listen.services_port = listen.port === 0 ? 0 : listen.port + 1;
  }
  if (listen.services_port !== undefined && listen.services_port !== 0 && listen.services_port === listen.port) {
    issue('listen.services_port', 'must differ from listen.port: tasks\' services need an origin of their own');
  }
  if (url === undefined) return;
  if (http.public_url.includes(url)) issue('http.services_url', `${url} is also in http.public_url: tasks' services need an origin of their own`);
  if (listen.services_port === undefined && http.public_url.length === 0) {
    issue('http.services_url', 'set http.public_url too (where the master itself is reached), so that the services origin can send browsers to its login page');
  }
}
export type MasterConfigInput = z.input<typeof masterConfigSchema>;
export type AuthConfig = MasterConfig['auth'];
export type LdapConfig = NonNullable<AuthConfig['ldap']>;
