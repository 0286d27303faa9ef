import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Clock } from '../../clock.js';

/**
 * Tokens for slurmrestd's `rest_auth/jwt`: HS256 JWTs signed with the cluster's `jwt_key` (the file
 * slurm.conf's `AuthAltParameters=jwt_key=` names), claims `{iat, exp, sun}`. A token whose `sun`
 * is root or SlurmUser may act for any user through the X-SLURM-USER-NAME header; that is how
 * Trainyard submits a job as the task's resolved user. HS256 is one HMAC over two base64url
 * segments: node:crypto is all it takes, no JWT library.
 */
export class SlurmJwt {
  private cached: { token: string; renewAt: number } | undefined;

  constructor(
    private readonly key: Buffer,
    private readonly options: {
      /** The token's own user (`sun`): root, or the cluster's SlurmUser. */
      user: string;
      /** How long each token is valid, in seconds. */
      lifetimeSeconds: number;
      clock: Clock;
    },
  ) {
    if (key.length < 16) throw new Error(`the Slurm JWT key is ${key.length} bytes long; slurmctld's keys are random bytes, 32 or more`);
  }

  /** The key in `file` (read now, so that a missing or unreadable file stops the start naming it). */
  static fromKeyFile(file: string, options: SlurmJwt['options']): SlurmJwt {
    let key: Buffer;
    try {
      key = readFileSync(file);
    } catch (error) {
      throw new Error(`cannot read the Slurm JWT key ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    return new SlurmJwt(key, options);
  }

  /** A valid token: the same one until a tenth of its life is left, then a new one. */
  token(): string {
    const now = this.options.clock.now();
    if (this.cached && now < this.cached.renewAt) return this.cached.token;
    const lifetime = this.options.lifetimeSeconds;
    const iat = Math.floor(now / 1000);
    const token = signHs256({ iat, exp: iat + lifetime, sun: this.options.user }, this.key);
    this.cached = { token, renewAt: now + lifetime * 900 };
    return token;
  }
}

const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS with HS256 (RFC 7515/7519): header.payload.signature, each base64url. */
export function signHs256(claims: object, key: Buffer): string {
  const signed = `${segment({ alg: 'HS256', typ: 'JWT' })}.${segment(claims)}`;
  return `${signed}.${createHmac('sha256', key).update(signed).digest('base64url')}`;
}
