import {
  CONTROL_CHARACTER,
  EXPERIMENT_LOG_DIR,
  IDENTITY_KEYS,
  MAX_CONFIG_BYTES,
  PRIVILEGE_KEYS,
  TASK_CONFIG_SCHEMAS,
  type TaskConfig,
  type TaskKind,
} from '@trainyard/shared';
import { parseYaml, YamlError } from '@trainyard/shared/yaml';
import { DomainError } from '../errors.js';

export interface TaskDefaults {
  images: Record<Exclude<TaskKind, 'experiment'>, string>;
  /** The port a notebook or tensorboard serves on when its config names none (master.yaml tasks.ports). */
  ports: { notebook: number; tensorboard: number };
}

/**
 * What a kind runs when its config names no entrypoint; a service listens on the task's port and is
 * served by the master under `/proxy/<id>/`, which the agent tells it in TRAINYARD_PROXY_PATH (the id
 * exists only once the task does). Jupyter's own token is off only because the proxy lets no one
 * but the owner, operate_others and admins through.
 */
const DEFAULT_ENTRYPOINTS: Partial<Record<TaskKind, (port: number | undefined) => string[]>> = {
  notebook: (port) => ['/bin/sh', '-c', jupyterScript(port)],
  // TensorBoard wants its prefix without the trailing slash.
  tensorboard: (port) => ['/bin/sh', '-c', `exec tensorboard --logdir ${EXPERIMENT_LOG_DIR} --bind_all${port ? ` --port ${port}` : ''} --path_prefix "\${TRAINYARD_PROXY_PATH%/}"`],
  shell: () => ['sleep', 'infinity'],
};

/**
 * The default notebook: JupyterLab where the image has it (Jupyter's images, Notebook 7), else the
 * classic notebook server (Debian's jupyter-notebook 6.x, whose options are NotebookApp's), chosen
 * in the container at start. It serves the directory it starts in, which the agent chose writable
 * for the task's uid (the image's WORKDIR, else HOME); HOME if that is not so after all.
 */
function jupyterScript(port: number | undefined): string {
  // Root (an unlinked user's default_task) runs without capabilities in the container; Jupyter refuses root unless told.
  const common = `--ip=0.0.0.0 --no-browser${port ? ` --port=${port}` : ''} --notebook-dir="$dir" $root`;
  const server = (app: string) =>
    `--${app}.base_url="$TRAINYARD_PROXY_PATH" --${app}.token='' --${app}.password='' --${app}.allow_remote_access=True`;
  return [
    'dir=$PWD; [ -w "$dir" ] || dir=$HOME; root=; [ "$(id -u)" = 0 ] && root=--allow-root',
    `if command -v jupyter-lab >/dev/null 2>&1; then exec jupyter-lab ${common} ${server('ServerApp')}; fi`,
    `if command -v jupyter-notebook >/dev/null 2>&1; then exec jupyter-notebook ${common} ${server('NotebookApp')}; fi`,
    "echo 'this image has neither jupyter-lab nor jupyter-notebook: give the notebook an image with Jupyter (image: in its config, or tasks.images.notebook)' >&2; exit 127",
  ].join('\n');
}

const defaultPort = (kind: TaskKind, defaults: TaskDefaults) =>
  kind === 'notebook' ? defaults.ports.notebook : kind === 'tensorboard' ? defaults.ports.tensorboard : undefined;

const invalid = (message: string, details?: Array<{ path: string; message: string }>) =>
  new DomainError('INVALID_TASK_CONFIG', message, details ? { details } : {});

/**
 * Turns what a client sent (an object, or YAML text) into the config the task will run with,
 * or a 400 that says what is wrong. Nothing is stored until this has passed.
 */
export function parseTaskConfig(kind: TaskKind, raw: unknown, defaults: TaskDefaults): TaskConfig {
  const document = typeof raw === 'string' ? parseConfigText(raw) : raw;
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw invalid('the task config must be a mapping of keys to values');
  }
  // Sized after alias expansion, which is where a YAML bomb grows.
  if (JSON.stringify(document).length > MAX_CONFIG_BYTES) {
    throw invalid(`the task config is larger than ${MAX_CONFIG_BYTES} bytes once expanded`);
  }
  refuseIdentityAndPrivilege(document as Record<string, unknown>);

  const result = TASK_CONFIG_SCHEMAS[kind].safeParse(document);
  if (!result.success) {
    const details = result.error.issues.map((issue) => ({
      path: issue.path.join('.'),
      message: issue.code === 'unrecognized_keys' ? `unknown key${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` : issue.message,
    }));
    const summary = details
      .slice(0, 5)
      .map((d) => (d.path && !d.message.startsWith(d.path) ? `${d.path}: ${d.message}` : d.message))
      .join('; ');
    throw invalid(`invalid ${kind} config: ${summary}`, details);
  }
  const config = result.data;
  const port = config.port ?? defaultPort(kind, defaults);
  const entrypoint = config.entrypoint ?? DEFAULT_ENTRYPOINTS[kind]?.(port);
  if (!entrypoint) throw invalid(`invalid ${kind} config: entrypoint is required`);
  const image = config.image ?? (kind === 'experiment' ? undefined : defaults.images[kind]);
  if (!image) throw invalid(`invalid ${kind} config: image is required`);
  return {
    name: config.name ?? defaultName(kind, entrypoint),
    ...(config.description === undefined ? {} : { description: config.description }),
    ...(config.group === undefined ? {} : { group: config.group }),
    ...(config.pool === undefined ? {} : { pool: config.pool }),
    image,
    entrypoint: typeof entrypoint === 'string' ? ['/bin/sh', '-c', entrypoint] : entrypoint,
    resources: config.resources,
    bind_mounts: config.bind_mounts,
    default_mounts: config.default_mounts,
    environment: config.environment,
    cap_add: config.cap_add,
    ...(port === undefined ? {} : { port }),
    max_restarts: config.max_restarts,
    ...(config.priority === undefined ? {} : { priority: config.priority }),
    ...(config.preemptible === undefined ? {} : { preemptible: config.preemptible }),
    ...('experiment_ids' in config ? { experiment_ids: config.experiment_ids as number[] } : {}),
  };
}

function parseConfigText(text: string): unknown {
  try {
    return parseYaml(text, { maxAliasCount: 50 });
  } catch (error) {
    if (error instanceof YamlError) throw invalid(`the task config is ${error.message}`);
    throw error;
  }
}

/** `--user=0`, `-u 0`: container-runtime style overrides smuggled in as option strings. */
const USER_OVERRIDE = /^\s*(--user|-u|--group-add|--userns)(=|\s|$)/;
const userOverride = (where: string) =>
  invalid(`${where}: "--user"-style overrides are not allowed; a task runs as its owner's linked agent user or the master's security.default_task`, [
    { path: where, message: 'not allowed: the run identity is set by the master' },
  ]);

/** Walks the config (not env values) for keys that would choose a uid or loosen the container. */
function refuseIdentityAndPrivilege(config: Record<string, unknown>, path: string[] = []): void {
  for (const [key, value] of Object.entries(config)) {
    const lower = key.toLowerCase();
    const where = [...path, key].join('.');
    // `group:` at the top is the task group it is created in (a Trainyard group path), not a Unix group.
    const taskGroup = path.length === 0 && key === 'group';
    if (IDENTITY_KEYS.includes(lower) && !taskGroup) {
      throw invalid(
        `${where}: a task cannot choose the user it runs as; it runs as its owner's linked agent user, ` +
          "or as the master's security.default_task (an admin sets either)",
        [{ path: where, message: 'not allowed: the run identity is set by the master' }],
      );
    }
    if (PRIVILEGE_KEYS.includes(lower)) {
      throw invalid(`${where}: tasks run with every capability dropped (but those the policy admits through cap_add) and never privileged; this cannot be asked for`, [
        { path: where, message: 'not allowed: container privileges are fixed by the master' },
      ]);
    }
    // The command runs inside the container, and variables are the task's own business.
    if (lower === 'environment' || lower === 'entrypoint') continue;
    if (typeof value === 'string' && USER_OVERRIDE.test(value)) throw userOverride(where);
    if (typeof value === 'object' && value !== null && path.length < 4) {
      if (Array.isArray(value)) {
        value.forEach((item, i) => {
          if (typeof item === 'string' && USER_OVERRIDE.test(item)) throw userOverride(`${where}[${i}]`);
          if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
            refuseIdentityAndPrivilege(item as Record<string, unknown>, [...path, `${key}[${i}]`]);
          }
        });
      } else {
        refuseIdentityAndPrivilege(value as Record<string, unknown>, [...path, key]);
      }
    }
  }
}

/** A command's name is its command line, with any control characters in it shown as "?". */
function defaultName(kind: TaskKind, entrypoint: string | string[]): string {
  if (kind !== 'command') return kind;
  const text = (typeof entrypoint === 'string' ? entrypoint : entrypoint.join(' ')).replace(new RegExp(CONTROL_CHARACTER, 'g'), '?');
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
