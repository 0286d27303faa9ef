import { createInterface } from 'node:readline/promises';

export class PromptError extends Error {
  override name = 'PromptError';
}

const interactive = () => process.stdin.isTTY === true && process.stderr.isTTY === true;

/** Reads a password with echo off; `confirm` asks twice (when setting a new one). */
export async function promptPassword(message: string, options: { confirm?: boolean } = {}): Promise<string> {
  if (!interactive()) {
    throw new PromptError(`${message.replace(/:\s*$/, '')}: no terminal to ask on; use --password-stdin or YARD_PASSWORD`);
  }
  const { default: password } = await import('@inquirer/password');
  const first = await password({ message, mask: false }, { output: process.stderr });
  if (options.confirm) {
    const again = await password({ message: 'Repeat it:', mask: false }, { output: process.stderr });
    if (again !== first) throw new PromptError('the two passwords do not match');
  }
  return first;
}

export async function promptLine(message: string): Promise<string> {
  if (!interactive()) throw new PromptError(`${message.replace(/:\s*$/, '')}: no terminal to ask on`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`${message} `)).trim();
  } finally {
    rl.close();
  }
}

/** The first line of stdin, without its newline: for --password-stdin. */
export async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const newline = text.indexOf('\n');
  return (newline === -1 ? text : text.slice(0, newline)).replace(/\r$/, '');
}

/** A password for logging in as `user`: YARD_PASSWORD when set (even blank), else a hidden prompt. */
export async function loginPassword(user: string): Promise<string> {
  const fromEnv = process.env.YARD_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  return promptPassword(`Password for ${user}:`);
}
