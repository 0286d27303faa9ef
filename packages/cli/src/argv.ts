/** Global flags that take a value, and those that do not. */
const WITH_VALUE = new Set(['-m', '--master', '-u', '--user', '--request-timeout', '--context']);
const BOOLEAN = new Set(['--json', '--color', '--no-color']);
/** Every flag that may come before the command (completion offers them there). */
export const HOISTED_FLAGS: ReadonlySet<string> = new Set([...WITH_VALUE, ...BOOLEAN]);

/**
 * Moves global flags written before the command (`yard -u admin user list`) to after it
 * (`yard user list -u admin`), and before any `--`, so oclif parses them as the command's own.
 * A hoisted `--user NAME` becomes `-u NAME`: on commands whose own `--user` names a target
 * (`yard --user admin role assign operator --user carol`), only `-u` means "act as".
 */
export function hoistGlobalFlags(argv: string[]): string[] {
  const hoisted: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    const name = arg.startsWith('--') ? arg.split('=')[0]! : arg;
    if (name === '--user') {
      const value = arg.includes('=') ? arg.slice('--user='.length) : argv[i + 1];
      if (value === undefined) break;
      hoisted.push('-u', value);
      i += arg.includes('=') ? 1 : 2;
    } else if (WITH_VALUE.has(name) && !arg.includes('=') && i + 1 < argv.length) {
      hoisted.push(arg, argv[i + 1]!);
      i += 2;
    } else if (WITH_VALUE.has(name) || BOOLEAN.has(arg) || /^-[mu]./.test(arg)) {
      hoisted.push(arg);
      i += 1;
    } else {
      break;
    }
  }
  if (hoisted.length === 0) return argv;
  const rest = argv.slice(i);
  const separator = rest.indexOf('--');
  return separator === -1
    ? [...rest, ...hoisted]
    : [...rest.slice(0, separator), ...hoisted, ...rest.slice(separator)];
}

let trailing: string[] | undefined;

/**
 * Cuts argv at the first `--`: what follows is a task's command, never yard's flags, whatever
 * it looks like (`-c`, `--json`...). Commands that take one read it with `trailingArgs()`.
 */
export function splitAtDoubleDash(argv: string[]): string[] {
  const index = argv.indexOf('--');
  if (index === -1) return argv;
  trailing = argv.slice(index + 1);
  return argv.slice(0, index);
}

export function trailingArgs(): string[] | undefined {
  return trailing;
}

/**
 * Short forms, as det and kubectl have them: a topic's (`yard e ls` is `yard experiment list`) and a
 * command's. `yard help` lists them; completion knows them. A short form stands for its long one
 * only where that names a topic or command, so `rm` is `delete` under `task` and `group` only.
 */
export const TOPIC_SHORT_FORMS: Readonly<Record<string, string>> = {
  a: 'agent',
  cmd: 'command',
  e: 'experiment',
  nb: 'notebook',
  t: 'task',
  tb: 'tensorboard',
  u: 'user',
};
export const COMMAND_SHORT_FORMS: Readonly<Record<string, string>> = {
  ls: 'list',
  rm: 'delete',
};

/**
 * Spells out short forms in the words that name the command (`e ls` → `experiment list`, also
 * after `help`), given every command id (`experiment:list`). Words after the command, flags and
 * anything after `--` are left as they are.
 */
export function expandShortForms(argv: string[], commandIds: Iterable<string>): string[] {
  const ids = new Set(commandIds);
  const topics = new Set([...ids].flatMap((id) => id.split(':').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join(':'))));
  const known = (path: string[]) => ids.has(path.join(':')) || topics.has(path.join(':'));
  const out = [...argv];
  const path: string[] = [];
  for (let i = out[0] === 'help' ? 1 : 0; i < out.length; i++) {
    const word = out[i]!;
    if (word.startsWith('-')) break;
    const long = (path.length === 0 ? TOPIC_SHORT_FORMS[word] : undefined) ?? COMMAND_SHORT_FORMS[word];
    if (!known([...path, word]) && long !== undefined && known([...path, long])) out[i] = long;
    path.push(out[i]!);
    // A command that is not also a topic ends the command's words: what follows is its arguments.
    if (!known(path) || (ids.has(path.join(':')) && !topics.has(path.join(':')))) break;
  }
  return out;
}

