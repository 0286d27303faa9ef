import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseYaml, YamlError } from '@trainyard/shared/yaml';
import { checkPools } from './check-pools.js';
import type { z } from 'zod';
import { policySchema, type PolicyConfig } from '../admission/policy-schema.js';
import { masterConfigSchema, resolveServicesOrigin, type MasterConfig, type MasterConfigInput } from './config-schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads, validates and resolves master.yaml; env vars YARD_DB, YARD_DB_URL, YARD_HOST, YARD_PORT win over the file. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): MasterConfig {
  const config = parseConfig(applyEnv(readConfigDocument(file), env), file);
  // What the file left relative (its defaults, env values) is relative to the file named.
  const dir = path.dirname(path.resolve(file));
  resolveFilePaths(config, dir);
  // Pools are named by the admin: their files are found per pool.
  for (const pool of Object.values(config.pools)) if (pool.manager === 'slurm') pool.jwt_key_file = path.resolve(dir, pool.jwt_key_file);
  return config;
}

/** Keys of master.yaml that name files: relative values are relative to the file that sets them. */
const FILE_PATH_KEYS = [
  ['db', 'path'],
  ['agents', 'token_file'],
  ['metrics', 'token_file'],
  ['http', 'web_root'],
  ['listen', 'tls', 'cert'],
  ['listen', 'tls', 'key'],
  ['auth', 'ldap', 'ca_file'],
  ['auth', 'ldap', 'bind_password_file'],
  ['auth', 'file', 'path'],
] as const;

const isMapping = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function resolveFilePaths(config: unknown, dir: string): void {
  for (const keys of FILE_PATH_KEYS) {
    const parent = keys.slice(0, -1).reduce<unknown>((node, key) => (isMapping(node) ? node[key] : undefined), config);
    const last = keys[keys.length - 1]!;
    if (isMapping(parent) && typeof parent[last] === 'string') parent[last] = path.resolve(dir, parent[last]);
  }
}

/**
 * Host paths of the policy's mount rules written relative (`./scratch`, `../data`: a leading `.`
 * says so) are relative to the file that sets them; anything else must be absolute (the schema
 * says so), so that a missing slash is an error rather than a path.
 */
function resolvePolicyPaths(document: unknown, dir: string): void {
  const policy = isMapping(document) ? document.policy : undefined;
  if (!isMapping(policy)) return;
  const layers = [policy.system, ...[policy.groups, policy.users].flatMap((named) => (isMapping(named) ? Object.values(named) : []))];
  for (const layer of layers) {
    const mounts = isMapping(layer) ? layer.mounts : undefined;
    if (!isMapping(mounts)) continue;
    for (const list of Object.values(mounts)) {
      if (!Array.isArray(list)) continue;
      for (const rule of list) {
        if (isMapping(rule) && typeof rule.host_path === 'string' && /^\.\.?\//.test(rule.host_path)) rule.host_path = path.resolve(dir, rule.host_path);
      }
    }
  }
}

/**
 * A config file as a document, its relative policy host paths resolved. A file may start from
 * another one, `extends: ../master.yaml` (relative to it): the other file's document, its relative
 * paths resolved against its own directory, with this file's keys over it (mappings merge key by
 * key; lists and values replace). That is how the quick start (examples/quickstart.yaml) is
 * master.yaml plus what it relaxes.
 */
function readConfigDocument(file: string, seen: string[] = []): unknown {
  const document = readDocument(file);
  const dir = path.dirname(path.resolve(file));
  resolvePolicyPaths(document, dir);
  if (!isMapping(document) || !('extends' in document)) return document;
  const { extends: base, ...own } = document;
  if (typeof base !== 'string' || base === '') throw new ConfigError(`invalid ${file}:\n  - extends: must be the path of another config file`);
  const baseFile = path.resolve(dir, base);
  if ([...seen, path.resolve(file)].includes(baseFile)) throw new ConfigError(`invalid ${file}:\n  - extends: ${base} extends ${file} in turn`);
  const inherited = readConfigDocument(baseFile, [...seen, path.resolve(file)]);
  resolveFilePaths(inherited, path.dirname(baseFile));
  return merge(inherited, own);
}

function merge(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over === undefined ? base : over;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) merged[key] = merge(base[key], value);
  return merged;
}

/**
 * Only the `policy` section of master.yaml, validated (for a reload: the rest of the file needs a
 * restart). Errors name the offending key, `policy.` included.
 */
export function loadPolicy(file: string): PolicyConfig {
  const raw = readConfigDocument(file);
  const section = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>).policy : undefined;
  const result = policySchema.safeParse(section);
  if (!result.success) throw new ConfigError(`invalid policy in ${file}:\n${describeIssues(result.error, ['policy'])}`);
  return result.data;
}

function readDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text, { maxAliasCount: 100 }) ?? {};
  } catch (error) {
    if (error instanceof YamlError) throw new ConfigError(`${file} is ${error.message}`);
    throw error;
  }
}

/** Validates a config object; errors name the offending key. */
export function parseConfig(raw: unknown, source = 'config'): MasterConfig {
  const result = masterConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(`invalid ${source}:\n${describeIssues(result.error)}`);
  const issues: string[] = [];
  resolveServicesOrigin(result.data, (key, message) => issues.push(`  - ${key}: ${message}`));
  if (issues.length > 0) throw new ConfigError(`invalid ${source}:\n${issues.join('\n')}`);
  checkPools(result.data, (key, message) => issues.push(`  - ${key}: ${message}`));
  if (issues.length > 0) throw new ConfigError(`invalid ${source}:\n${issues.join('\n')}`);
  return result.data;
}

export function defaultConfig(overrides: MasterConfigInput = {}): MasterConfig {
  return parseConfig(overrides);
}

function describeIssues(error: z.ZodError, prefix: PropertyKey[] = []): string {
  return error.issues
    .map((issue) => {
      const path = [...prefix, ...issue.path];
      const key = path.join('.') || '(top level)';
      if (issue.code === 'unrecognized_keys') {
        return `  - ${[...path, ...issue.keys].join('.')}: unknown key`;
      }
      return `  - ${key}: ${issue.message}`;
    })
    .join('\n');
}

function applyEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const config = structuredClone(raw) as Record<string, Record<string, unknown> | undefined>;
  const section = (name: string) => (config[name] = { ...(config[name] ?? {}) });
  // A file named in the environment is the store even where master.yaml names a PostgreSQL URL.
  if (env.YARD_DB) {
    section('db').path = env.YARD_DB;
    delete section('db').url;
  }
  if (env.YARD_DB_URL) section('db').url = env.YARD_DB_URL;
  if (env.YARD_HOST) section('listen').host = env.YARD_HOST;
  if (env.YARD_PORT) {
    const port = Number(env.YARD_PORT);
    section('listen').port = Number.isInteger(port) ? port : env.YARD_PORT;
  }
  return config;
}
