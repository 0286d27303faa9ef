import { createHash, randomBytes } from 'node:crypto';
import { TOKEN_PREFIX } from '@trainyard/shared';

/** 32 random bytes from the CSPRNG; the client holds the token, the master only its hash. */
export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
