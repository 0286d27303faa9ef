import { styleText } from 'node:util';

export type Style = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'gray' | 'bold' | 'dim';

/**
 * Colour only where a person reads: the stream is a terminal, NO_COLOR is unset or empty
 * (no-color.org; `--no-color` sets it), TERM is not `dumb`. FORCE_COLOR (not 0) forces it on.
 */
export function colourOn(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** `text` in `style` when `on`; as it is otherwise. */
export const paint = (text: string, style: Style | undefined, on: boolean): string =>
  // validateStream off: whether to colour is decided here, for the stream the text goes to (Node's own check looks at stdout).
  on && style && text ? styleText(style, text, { validateStream: false }) : text;

/** A task's state (or KILLING) by how it went: waiting yellow, running cyan, done green, failed red, killed magenta. */
export function stateStyle(state: string): Style | undefined {
  switch (state) {
    case 'QUEUED':
    case 'ASSIGNED':
    case 'PULLING':
    case 'STARTING':
      return 'yellow';
    case 'RUNNING':
      return 'cyan';
    case 'COMPLETED':
      return 'green';
    case 'FAILED':
    case 'LOST':
      return 'red';
    case 'KILLED':
    case 'KILLING':
      return 'magenta';
    default:
      return undefined;
  }
}

/** An agent's state: alive green, lost red, disabled yellow. */
export function agentStateStyle(state: string, enabled: boolean): Style | undefined {
  if (!enabled) return 'yellow';
  return state === 'alive' ? 'green' : state === 'lost' ? 'red' : undefined;
}

/** `Error: message` on stderr: the word red on a terminal. */
export function errorLine(message: string, hint?: string): string {
  const on = colourOn(process.stderr);
  return `${paint('Error:', 'red', on)} ${message}${hint ? `\n${paint('Hint:', 'yellow', on)} ${hint}` : ''}\n`;
}
