import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import apacheMd5 from 'apache-md5';
import bcrypt from 'bcryptjs';
import type { Logger } from 'pino';
import { ok, unavailable, WRONG, type AuthBackend } from './auth-backend.js';

// A CommonJS module whose types declare an ES default export: at run time the import is the function.
const aprMd5 = apacheMd5 as unknown as (password: string, salt: string) => string;

/**
 * Checks a password against one htpasswd line's hash: bcrypt ($2a$, $2b$, $2y$), apr1 ($apr1$)
 * and {SHA}. Anything else, plain text included, never matches. Comparisons are constant-time
 * (bcryptjs compares in constant time itself).
 */
export async function checkHtpasswdHash(hash: string, password: string): Promise<boolean> {
  const format = HASH_FORMATS.find((f) => f.pattern.test(hash));
  return format ? format.check(hash, password) : false;
}

const HASH_FORMATS: Array<{ pattern: RegExp; check: (hash: string, password: string) => Promise<boolean> | boolean }> = [
  { pattern: /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/, check: (hash, password) => bcrypt.compare(password, hash) },
  { pattern: /^\$apr1\$[^$]{1,8}\$[./A-Za-z0-9]{22}$/, check: (hash, password) => sameText(aprMd5(password, hash), hash) },
  {
    pattern: /^\{SHA\}[A-Za-z0-9+/]{27}=$/,
    check: (hash, password) =>
      timingSafeEqual(createHash('sha1').update(password, 'utf8').digest(), Buffer.from(hash.slice('{SHA}'.length), 'base64')),
  },
];

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * `name:hash` lines; `#` comments and blank lines skipped; the first line for a name wins, as in
 * Apache. `ignored` lists the line numbers that can never log in (no hash Trainyard accepts).
 */
export function parsePasswordFile(text: string): { entries: Map<string, string>; ignored: number[] } {
  const entries = new Map<string, string>();
  const ignored: number[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const hash = line.slice(colon + 1);
    if (colon <= 0 || !HASH_FORMATS.some((f) => f.pattern.test(hash))) ignored.push(index + 1);
    if (colon <= 0) return;
    // Trainyard names are lower case; a file written as "Alice" still means alice.
    const name = line.slice(0, colon).toLowerCase();
    if (!entries.has(name)) entries.set(name, hash);
  });
  return { entries, ignored };
}

/**
 * An htpasswd-style file, re-read whenever it changed (its inode, size or times differ), so an
 * admin's edit takes effect at the next login without a restart.
 */
export function createFileBackend(path: string, logger: Logger): AuthBackend {
  let cached: { version: string; entries: Map<string, string> } | undefined;

  async function entries(): Promise<Map<string, string>> {
    const info = await stat(path);
    const version = `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    if (cached?.version !== version) {
      const { entries, ignored } = parsePasswordFile(await readFile(path, 'utf8'));
      cached = { version, entries };
      logger.info({ path, users: entries.size }, 'read the password file');
      if (ignored.length > 0) {
        logger.warn({ path, lines: ignored }, 'password file lines without a bcrypt, apr1 or {SHA} hash: they never log in');
      }
    }
    return cached.entries;
  }

  return {
    name: 'file',
    passwordHome: `the password file ${path} on the master`,
    async verify({ username, password }) {
      let hash: string | undefined;
      try {
        hash = (await entries()).get(username);
      } catch (error) {
        return unavailable("the master's password file cannot be read: tell an admin", error);
      }
      return hash !== undefined && (await checkHtpasswdHash(hash, password)) ? ok() : WRONG;
    },
  };
}
