import { readFile } from 'node:fs/promises';

/** A config file the user named could not be read or parsed. */
export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

export async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigFileError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
