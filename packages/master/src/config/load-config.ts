import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseYaml, YamlError } from '@trainyard/shared/yaml';
import type { z } from 'zod';
import { policySchema, type PolicyConfig } from '../admission/policy-schema.js';
import { masterConfigSchema, resolveServicesOrigin, type MasterConfig, type MasterConfigInput } from './config-schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads, validates and resolves master.yaml; env vars YARD_DB, YARD_HOST, YARD_PORT win over the file. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): MasterConfig {
  const config = parseConfig(applyEnv(readDocument(file), env), file);
  const dir = path.dirname(path.resolve(file));
  config.db.path = path.resolve(dir, config.db.path);
  if (config.agents.token_file) config.agents.token_file = path.resolve(dir, config.agents.token_file);
  if (config.metrics.token_file) config.metrics.token_file = path.resolve(dir, config.metrics.token_file);
  if (config.http.web_root) config.http.web_root = path.resolve(dir, config.http.web_root);
  if (config.listen.tls) {
    config.listen.tls = { cert: path.resolve(dir, config.listen.tls.cert), key: path.resolve(dir, config.listen.tls.key) };
  }
  const { ldap, file: passwordFile } = config.auth;
  if (ldap?.ca_file) ldap.ca_file = path.resolve(dir, ldap.ca_file);
  if (ldap?.bind_password_file) ldap.bind_password_file = path.resolve(dir, ldap.bind_password_file);
  if (passwordFile) passwordFile.path = path.resolve(dir, passwordFile.path);
  return config;
}

/**
 * Only the `policy` section of master.yaml, validated (for a reload: the rest of the file needs a
 * restart). Errors name the offending key, `policy.` included.
 */
export function loadPolicy(file: string): PolicyConfig {
  const raw = readDocument(file);
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
  if (env.YARD_DB) section('db').path = env.YARD_DB;
  if (env.YARD_HOST) section('listen').host = env.YARD_HOST;
  if (env.YARD_PORT) {
    const port = Number(env.YARD_PORT);
    section('listen').port = Number.isInteger(port) ? port : env.YARD_PORT;
  }
  return config;
}
