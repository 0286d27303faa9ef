import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configDir } from './config-dir.js';

/** `login` tokens belong to the active user; `temporary` ones to `-u NAME`. Each has its own slot. */
export type TokenSlot = { master: string; user: string; kind: 'login' | 'temporary' };

/** The only things the CLI does with stored tokens. */
export interface TokenStore {
  readonly where: string;
  get(slot: TokenSlot): Promise<string | undefined>;
  set(slot: TokenSlot, token: string): Promise<void>;
  delete(slot: TokenSlot): Promise<void>;
}

const SERVICE = 'trainyard';
const account = (slot: TokenSlot) => `${slot.kind}:${slot.user}@${slot.master}`;

/** The OS keychain through @napi-rs/keyring; loaded lazily so commands that need no token skip it. */
class KeyringTokenStore implements TokenStore {
  readonly where = 'the OS keychain';
  constructor(private readonly keyring: typeof import('@napi-rs/keyring')) {}
  async get(slot: TokenSlot) {
    return new this.keyring.Entry(SERVICE, account(slot)).getPassword() ?? undefined;
  }
  async set(slot: TokenSlot, token: string) {
    new this.keyring.Entry(SERVICE, account(slot)).setPassword(token);
  }
  async delete(slot: TokenSlot) {
    new this.keyring.Entry(SERVICE, account(slot)).deletePassword();
  }
}

/** A 0600 JSON file in a 0700 directory, for machines without a usable keychain (servers, CI). */
export class FileTokenStore implements TokenStore {
  readonly where: string;
  constructor(private readonly file = path.join(configDir(), 'tokens.json')) {
    this.where = file;
  }
  private read(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }
  private write(tokens: Record<string, string>): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(tokens, null, 2), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
  async get(slot: TokenSlot) {
    return this.read()[account(slot)];
  }
  async set(slot: TokenSlot, token: string) {
    this.write({ ...this.read(), [account(slot)]: token });
  }
  async delete(slot: TokenSlot) {
    const tokens = this.read();
    if (!(account(slot) in tokens)) return;
    delete tokens[account(slot)];
    this.write(tokens);
  }
}

/**
 * The keychain when it answers, else the file. YARD_TOKEN_STORE=file|keychain forces one.
 * A keychain that fails later (a locked or vanished D-Bus session) falls back per call.
 *
 * A slot lives in one place: a token the keychain took is removed from the file. So the file is
 * read first, and the keychain (a native addon, and a write to probe it) is loaded only when the
 * file does not have the token: where there is no usable keychain (servers, CI), never.
 */
export async function openTokenStore(env: NodeJS.ProcessEnv = process.env): Promise<TokenStore> {
  const file = new FileTokenStore();
  if (env.YARD_TOKEN_STORE === 'file') return file;
  if (env.YARD_TOKEN_STORE === 'keychain') {
    const keychain = await probeKeychain();
    if (keychain instanceof Error) throw new Error(`the OS keychain is unavailable: ${keychain.message}`);
    return keychain;
  }
  let opened: Promise<KeyringTokenStore | Error> | undefined;
  const keychain = async () => {
    const found = await (opened ??= probeKeychain());
    return found instanceof Error ? undefined : found;
  };
  return {
    where: 'the OS keychain',
    get: async (slot) => (await file.get(slot)) ?? (await (await keychain())?.get(slot).catch(() => undefined)),
    set: async (slot, token) => {
      const store = await keychain();
      if (store) {
        try {
          await store.set(slot, token);
          await file.delete(slot);
          return;
        } catch {
          // A keychain that stopped answering: the file, as when there is none.
        }
      }
      await file.set(slot, token);
    },
    delete: async (slot) => {
      const store = await keychain();
      await Promise.allSettled([store?.delete(slot), file.delete(slot)]);
    },
  };
}

/** The OS keychain, if writing to it works here (reading works on some headless machines where writing does not). */
async function probeKeychain(): Promise<KeyringTokenStore | Error> {
  try {
    const keychain = new KeyringTokenStore(await import('@napi-rs/keyring'));
    const probe: TokenSlot = { master: 'probe', user: 'probe', kind: 'temporary' };
    await keychain.set(probe, 'probe');
    await keychain.delete(probe);
    return keychain;
  } catch (error) {
    return error as Error;
  }
}
