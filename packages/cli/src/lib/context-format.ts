import type { View } from './output.js';

/** A context as `yard context list` shows it: its master, whether it is current, and who is logged in there. */
export interface ContextRow {
  name: string;
  master: string;
  current: boolean;
  /** Who `yard user login` made the active user on that master; null: nobody (the default account). */
  user: string | null;
}

export const contextsView: View<ContextRow> = {
  name: (c) => c.name,
  columns: [
    { header: 'CURRENT', field: 'current', get: (c) => (c.current ? '*' : ''), raw: (c) => c.current, empty: '' },
    { header: 'NAME', field: 'name', get: (c) => c.name, style: (c) => (c.current ? 'bold' : undefined) },
    { header: 'MASTER', field: 'master', get: (c) => c.master },
    { header: 'USER', field: 'user', get: (c) => c.user ?? '(default account)', raw: (c) => c.user },
  ],
};

/** A context's name: letters, digits, `.`, `_` and `-`, as kubectl's usually are. */
export const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
