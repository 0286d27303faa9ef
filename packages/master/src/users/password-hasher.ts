import argon2 from 'argon2';

/** Only what the master needs from argon2. Hashing runs on libuv's pool, off the event loop. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Spends the time of one verify, so "no such user" costs what "wrong password" does. */
  burn(password: string): Promise<void>;
}

// OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane (~25 ms here).
const OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function createArgon2Hasher(): PasswordHasher {
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => argon2.hash(password, OPTIONS),
    verify: async (hash, password) => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    },
    burn: async (password) => {
      dummy ??= argon2.hash('not a real password', OPTIONS);
      await argon2.verify(await dummy, password).catch(() => false);
    },
  };
}
