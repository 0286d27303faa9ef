import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import SQLite from 'better-sqlite3';

export class BackupRefused extends Error {
  override name = 'BackupRefused';
}

export interface BackupReport {
  from: string;
  to: string;
  bytes: number;
  integrity: 'ok';
}

/**
 * A consistent copy of a SQLite store while its master runs: SQLite's online backup API, from a
 * read-only connection of this process (in WAL mode a reader in another process sees one snapshot
 * and blocks no writer). The pages are copied in one step: copied a few at a time, a backup starts
 * over whenever the master writes between two steps, which under load may be forever. The copy is
 * created 0600 (it holds password and token hashes) and checked with `PRAGMA integrity_check`.
 */
export async function backupSqlite(file: string, destination: string, options: { onProgress?: (line: string) => void } = {}): Promise<BackupReport> {
  const say = options.onProgress ?? (() => {});
  if (existsSync(destination)) throw new BackupRefused(`${destination} already exists: name a new file (a backup never overwrites one)`);
  let source: SQLite.Database;
  try {
    source = new SQLite(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new BackupRefused(`cannot open ${file}: ${(error as Error).message}`);
  }
  try {
    closeSync(openSync(destination, 'wx', 0o600));
    await source.backup(destination, {
      progress: ({ totalPages, remainingPages }) => {
        say(`copying ${totalPages} pages (${remainingPages} left)`);
        return 0x7fffffff;
      },
    });
  } finally {
    source.close();
  }
  const copy = new SQLite(destination, { readonly: true, fileMustExist: true });
  try {
    const integrity = copy.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new Error(`the backup ${destination} failed its integrity check: ${String(integrity)}`);
  } finally {
    copy.close();
  }
  return { from: file, to: destination, bytes: statSync(destination).size, integrity: 'ok' };
}
