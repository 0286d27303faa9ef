import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configDir } from './config-dir.js';

/** A named master (`yard context add prod https://yard.example.org`). */
export interface Context {
  master: string;
}

interface SettingsShape {
  /** Per master URL: who `yard user login` made the active user. */
  masters: Record<string, { activeUser?: string }>;
  /** Named masters, and the one commands use when neither -m nor YARD_MASTER says. */
  contexts?: Record<string, Context>;
  currentContext?: string;
}

/** A settings file that is there but cannot be read as settings. */
export class SettingsFileError extends Error {
  override name = 'SettingsFileError';
}

/**
 * Non-secret CLI state in `<config dir>/settings.json`. Tokens never go here. The file is the
 * one `conf` kept before (tab-indented JSON, `masters.<url>.activeUser`), read and written here
 * with node:fs alone: conf and its schema validator cost a tenth of a second at every start.
 */
export class Settings {
  readonly file: string;

  constructor(dir: string = configDir()) {
    this.file = path.join(dir, 'settings.json');
  }

  activeUser(master: string): string | undefined {
    return this.read().masters[master]?.activeUser;
  }

  setActiveUser(master: string, user: string | undefined): void {
    this.update((s) => {
      const masters = { ...s.masters };
      if (user === undefined) delete masters[master];
      else masters[master] = { ...masters[master], activeUser: user };
      return { ...s, masters };
    });
  }

  contexts(): Record<string, Context> {
    return this.read().contexts ?? {};
  }

  /** The current context's name and master, if one is set and still exists. */
  currentContext(): ({ name: string } & Context) | undefined {
    const s = this.read();
    const name = s.currentContext;
    const context = name === undefined ? undefined : s.contexts?.[name];
    return name !== undefined && context ? { name, ...context } : undefined;
  }

  setContext(name: string, context: Context): void {
    this.update((s) => ({ ...s, contexts: { ...s.contexts, [name]: context } }));
  }

  /** Removes a context (and makes none current if it was). False when there was none by that name. */
  removeContext(name: string): boolean {
    let found = false;
    this.update((s) => {
      const contexts = { ...s.contexts };
      found = name in contexts;
      delete contexts[name];
      const next: SettingsShape = { ...s, contexts };
      if (s.currentContext === name) delete next.currentContext;
      return next;
    });
    return found;
  }

  useContext(name: string | undefined): void {
    this.update((s) => {
      const next: SettingsShape = { ...s };
      if (name === undefined) delete next.currentContext;
      else next.currentContext = name;
      return next;
    });
  }

  private read(): SettingsShape {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { masters: {} };
      throw new SettingsFileError(`cannot read ${this.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    let value: unknown;
    try {
      value = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw new SettingsFileError(`${this.file} is not valid JSON: fix or remove it (it holds who is logged in and your contexts, never tokens)`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new SettingsFileError(`${this.file} must hold a JSON object: fix or remove it`);
    }
    const shape = value as Partial<SettingsShape>;
    return { ...shape, masters: isRecord(shape.masters) ? shape.masters : {} } as SettingsShape;
  }

  /** Read, change, write atomically (a temporary file renamed over it), as conf did. */
  private update(change: (settings: SettingsShape) => SettingsShape): void {
    const next = change(this.read());
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(next, undefined, '\t'));
    renameSync(tmp, this.file);
  }
}

const isRecord = (value: unknown): value is Record<string, never> => typeof value === 'object' && value !== null && !Array.isArray(value);
