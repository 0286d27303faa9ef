import { createInterface } from 'node:readline/promises';

export class PromptError extends Error {
  override name = 'PromptError';
}

/** Ctrl-C at a prompt: yard exits 130, as a shell expects of an interrupted program, with no trace. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor() {
    super('interrupted');
  }
}

/** @inquirer's prompts reject with ExitPromptError on Ctrl-C (its own class, matched by name: it is loaded lazily). */
async function interruptible<T>(prompt: Promise<T>): Promise<T> {
  try {
    return await prompt;
  } catch (error) {
    if ((error as Error | undefined)?.name === 'ExitPromptError') throw new InterruptedError();
    throw error;
  }
}

/** A person at a terminal who can be asked (stdin and stderr both terminals). */
export const interactive = () => process.stdin.isTTY === true && process.stderr.isTTY === true;

/** A password can be had without failing: YARD_PASSWORD is set, or a person can be asked. */
export const canGetPassword = () => process.env.YARD_PASSWORD !== undefined || interactive();

/** Reads a password with echo off; `confirm` asks twice (when setting a new one). */
export async function promptPassword(message: string, options: { confirm?: boolean } = {}): Promise<string> {
  if (!interactive()) {
    throw new PromptError(`${message.replace(/:\s*$/, '')}: no terminal to ask on; use --password-stdin or YARD_PASSWORD`);
  }
  const { default: password } = await import('@inquirer/password');
  const first = await interruptible(password({ message, mask: false }, { output: process.stderr }));
  if (options.confirm) {
    const again = await interruptible(password({ message: 'Repeat it:', mask: false }, { output: process.stderr }));
    if (again !== first) throw new PromptError('the two passwords do not match');
  }
  return first;
}

export async function promptLine(message: string): Promise<string> {
  if (!interactive()) throw new PromptError(`${message.replace(/:\s*$/, '')}: no terminal to ask on`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    // Without a listener, readline only pauses on Ctrl-C and the question never ends.
    const interrupted = new Promise<never>((_, reject) => rl.once('SIGINT', () => reject(new InterruptedError())));
    return (await Promise.race([rl.question(`${message} `), interrupted])).trim();
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
