import type { PasswordHasher } from '../users/password-hasher.js';
import { ok, WRONG, type AuthBackend } from './auth-backend.js';

/** Trainyard's own argon2id hashes. A name with no user spends the time of a check all the same. */
export function createInternalBackend(hasher: PasswordHasher): AuthBackend {
  return {
    name: 'internal',
    passwordHome: 'Trainyard',
    async verify({ password, user }) {
      if (!user) {
        await hasher.burn(password);
        return WRONG;
      }
      return (await hasher.verify(user.passwordHash, password)) ? ok() : WRONG;
    },
  };
}
