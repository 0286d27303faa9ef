import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hashMetricsToken } from '../authz/metrics.js';

const MIN_TOKEN_LENGTH = 16;

/**
 * The SHA-256 of `metrics.token_file`'s token, made (random, 0600) when the file is missing, as
 * `agents.token_file` is: the admin gives Prometheus the same file. A token too short to resist
 * guessing stops the start; the returned error message names the file.
 */
export function metricsTokenHash(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  }
  const token = readFileSync(file, 'utf8').trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(`metrics.token_file ${file} must hold one token of at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. \`openssl rand -hex 32\`)`);
  }
  return hashMetricsToken(token);
}
