import { spawn as spawnPty } from 'node-pty';

/**
 * README.md's tour as a list of shell blocks, each a list of commands as printed. A block may be
 * preceded by a marker, an HTML comment that says why the test treats it otherwise (visible in the
 * README's source, never a silent skip):
 *   <!-- readme-test: skip: REASON -->                    not run here
 *   <!-- readme-test: process-executor-fails: REASON -->  on the process executor its commands may
 *                                                          fail (and one must: else drop the marker)
 * In a block, a comment line `# Error: ...` right after a command says that command fails with that
 * message; other comment lines are prose.
 */
export interface TourBlock {
  /** 1-based line of the opening fence in README.md. */
  line: number;
  marker?: { kind: MarkerKind; reason: string };
  steps: TourStep[];
}

export interface TourStep {
  command: string;
  line: number;
  /** The command must fail, printing this (`# Error: ...` under it in the README). */
  expectedError?: string;
}

export const MARKER_KINDS = ['skip', 'process-executor-fails'] as const;
export type MarkerKind = (typeof MARKER_KINDS)[number];

const MARKER = /^<!--\s*readme-test:\s*([\w-]+):\s*(.*?)\s*-->$/;

/** The `sh` blocks from `## Quick start` to the end of `## A short tour`. */
export function tourBlocks(readme: string): TourBlock[] {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.startsWith('## Quick start'));
  const tour = lines.findIndex((l) => l.startsWith('## A short tour'));
  if (start === -1 || tour === -1) throw new Error('README.md has no "## Quick start" or "## A short tour" section');
  const next = lines.findIndex((l, i) => i > tour && l.startsWith('## '));
  const end = next === -1 ? lines.length : next;
  const blocks: TourBlock[] = [];
  for (let i = start; i < end; i++) {
    const marker = MARKER.exec(lines[i]!.trim());
    if (marker) {
      if (!(MARKER_KINDS as readonly string[]).includes(marker[1]!)) throw new Error(`README.md:${i + 1}: unknown readme-test marker "${marker[1]}" (known: ${MARKER_KINDS.join(', ')})`);
      if (lines[i + 1]?.trim() !== '```sh') throw new Error(`README.md:${i + 1}: a readme-test marker must stand right above a \`\`\`sh block`);
      continue;
    }
    if (lines[i]!.trim() !== '```sh') continue;
    const above = MARKER.exec(lines[i - 1]?.trim() ?? '');
    const body: Array<{ text: string; line: number }> = [];
    let j = i + 1;
    for (; j < end && lines[j]!.trim() !== '```'; j++) body.push({ text: lines[j]!, line: j + 1 });
    if (j === end) throw new Error(`README.md:${i + 1}: the sh block never ends`);
    blocks.push({ line: i + 1, steps: commandsOf(body), ...(above ? { marker: { kind: above[1] as MarkerKind, reason: above[2]! } } : {}) });
    i = j;
  }
  return blocks;
}

/** Commands as the shell would read them: `\` continues a line, a here-document runs to its end word. */
function commandsOf(body: Array<{ text: string; line: number }>): TourStep[] {
  const steps: TourStep[] = [];
  for (let k = 0; k < body.length; k++) {
    const { text, line } = body[k]!;
    const trimmed = text.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const error = /^#\s*(Error: .*)$/.exec(trimmed);
      if (error && steps.length > 0) steps[steps.length - 1]!.expectedError = error[1]!;
      continue;
    }
    let command = text;
    while (command.endsWith('\\') && k + 1 < body.length) command = `${command}\n${body[++k]!.text}`;
    const heredoc = /<<-?\s*'?(\w+)'?/.exec(command);
    if (heredoc) {
      while (k + 1 < body.length) {
        command = `${command}\n${body[++k]!.text}`;
        if (body[k]!.text.trim() === heredoc[1]) break;
      }
    }
    steps.push({ command, line });
  }
  return steps;
}

export interface StepResult {
  code: number;
  /** What the terminal showed, control sequences removed. */
  output: string;
}

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Z0-9]|\x1b[=>]/g;
export const plain = (text: string) => text.replace(ANSI, '').replace(/\r/g, '');

/**
 * Runs one command in bash on a pseudo-terminal, as a person at a terminal would, typing the
 * passwords the CLI asks for: a new one (create, change-password) is `<name>-pw` and remembered;
 * a login gets the remembered one (admin's is blank on a new master).
 */
export function runOnTerminal(
  command: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; passwords: Map<string, string>; timeoutMs: number },
): Promise<StepResult> {
  return new Promise((resolve) => {
    const term = spawnPty('bash', ['--noprofile', '--norc', '-c', command], { cwd: options.cwd, env: options.env as Record<string, string>, cols: 200, rows: 50 });
    let output = '';
    // Where the prompt being looked for starts; after an answer, the line it ends (the prompt's
    // own re-renders as it takes the keys add none).
    let answered = 0;
    let awaitingLineEnd = false;
    let lastNew: string | undefined;
    const answer = (password: string, at: number) => {
      answered = at;
      awaitingLineEnd = true;
      term.write(`${password}\r`);
    };
    term.onData((data) => {
      output += data;
      const text = plain(output);
      if (awaitingLineEnd) {
        const end = text.indexOf('\n', answered);
        if (end === -1) return;
        answered = end + 1;
        awaitingLineEnd = false;
      }
      const pending = text.slice(answered);
      const fresh = /New password for (\S+?):[^\n]*$/.exec(pending) ?? /Password for (\S+?) \(blank for none\):[^\n]*$/.exec(pending);
      if (fresh) {
        lastNew = `${fresh[1]}-pw`;
        options.passwords.set(fresh[1]!, lastNew);
        return answer(lastNew, text.length);
      }
      if (/Repeat it:[^\n]*$/.test(pending) && lastNew !== undefined) return answer(lastNew, text.length);
      const login = /Password for (\S+?):[^\n]*$/.exec(pending);
      if (login) answer(options.passwords.get(login[1]!) ?? '', text.length);
    });
    const timer = setTimeout(() => {
      output += `\n[readme test: killed after ${options.timeoutMs} ms]`;
      term.kill('SIGKILL');
    }, options.timeoutMs);
    term.onExit(({ exitCode, signal }) => {
      clearTimeout(timer);
      // Let the last output arrive.
      setTimeout(() => resolve({ code: signal ? 128 + signal : exitCode, output: plain(output) }), 50);
    });
  });
}
