import { CONTROL_CHARACTER } from '@trainyard/shared/constants';

const CONTROL = new RegExp(CONTROL_CHARACTER.source, 'g');
// A colour or style (SGR: ESC [ ... m), or any other control character.
const SGR_OR_CONTROL = new RegExp(`(\\x1b\\[[0-9;:]*m)|${CONTROL_CHARACTER.source}`, 'g');
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One control character as a visible escape: `\n`, `\x1b`, `\u202e`. */
function visible(char: string): string {
  if (NAMED[char]) return NAMED[char];
  const code = char.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Text that came from the master (names, descriptions, messages) as it reads: every control
 * character, escape sequences and bidirectional overrides included, is printed as a visible
 * escape, so nothing another user typed can move the cursor, retitle or recolour the terminal.
 */
export function escapeText(text: string): string {
  return text.replace(CONTROL, visible);
}

/**
 * A line of a task's own output for a terminal: colours and styles (SGR sequences), tabs and
 * carriage returns (progress bars) pass; every other control character or sequence (cursor
 * movement, window titles, clipboard writes, bidirectional overrides) is shown escaped.
 * `logs --raw` prints the lines exactly as the task wrote them.
 */
export function terminalSafeLine(line: string): string {
  return line.replace(SGR_OR_CONTROL, (match, sgr: string | undefined) => (sgr || match === '\t' || match === '\r' ? match : visible(match)));
}
