/** Global flags that take a value, and those that do not. */
const WITH_VALUE = new Set(['-m', '--master', '-u', '--user', '--request-timeout']);
const BOOLEAN = new Set(['--json']);

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
