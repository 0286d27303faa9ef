import type { Command, Interfaces } from '@oclif/core';

/**
 * Shell completion scripts for bash, zsh and fish, written from oclif's command manifest: the
 * commands and topics, each command's flags (and the values of flags that take one of a list),
 * and the short forms (`e` for experiment, `ls` for list). Everything is in the script: completing
 * runs no `yard` process, so it is instant and works without a master.
 */

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Word {
  word: string;
  description: string;
}

interface FlagInfo {
  /** `--all`, and `-a` when it has a short form; `--no-color` for a flag that can be negated. */
  names: string[];
  description: string;
  takesValue: boolean;
  options: string[];
}

/** Every node: a path (`experiment list`, `agent token`, '' for the root), what may follow it, and its flags. */
export interface CompletionModel {
  bin: string;
  /** What may follow each path: its topics and commands. */
  children: Map<string, Word[]>;
  /** The flags of each command. */
  flags: Map<string, FlagInfo[]>;
  /** The flags yard takes before any command (`yard -u admin user list`). */
  globalFlags: FlagInfo[];
  topicShortForms: Record<string, string>;
  commandShortForms: Record<string, string>;
}

type Loadable = Pick<Command.Loadable, 'id' | 'hidden' | 'summary' | 'description'> & { flags: Record<string, Interfaces.FlagInput[string] | Command.Flag.Cached> };

export function completionModel(
  config: { bin: string; commands: Loadable[]; topics: Array<{ name: string; description?: string; hidden?: boolean }> },
  shortForms: { topics: Record<string, string>; commands: Record<string, string>; hoisted: ReadonlySet<string> },
): CompletionModel {
  const children = new Map<string, Word[]>();
  const add = (parent: string, word: string, description: string) => {
    const list = children.get(parent) ?? [];
    if (!list.some((w) => w.word === word)) list.push({ word, description: oneLine(description) });
    children.set(parent, list);
  };
  const commands = config.commands.filter((c) => !c.hidden);
  for (const topic of config.topics.filter((t) => !t.hidden)) {
    const parts = topic.name.split(':');
    add(parts.slice(0, -1).join(' '), parts.at(-1)!, topic.description ?? '');
  }
  const flags = new Map<string, FlagInfo[]>();
  for (const command of commands) {
    const parts = command.id.split(':');
    add(parts.slice(0, -1).join(' '), parts.at(-1)!, command.summary ?? command.description ?? '');
    flags.set(parts.join(' '), flagInfos(command.flags));
  }
  for (const list of children.values()) list.sort((a, b) => a.word.localeCompare(b.word));
  // The flags that may come before the command (`yard -u admin user list`), as commands describe them.
  const globalFlags = new Map<string, FlagInfo>();
  for (const info of [...flags.values()].flat()) {
    if (info.names.every((name) => shortForms.hoisted.has(name)) && !globalFlags.has(info.names[0]!)) globalFlags.set(info.names[0]!, info);
  }
  return {
    bin: config.bin,
    children,
    flags,
    globalFlags: [...globalFlags.values()].sort((a, b) => a.names[0]!.localeCompare(b.names[0]!)),
    topicShortForms: shortForms.topics,
    commandShortForms: shortForms.commands,
  };
}

function flagInfos(flags: Loadable['flags']): FlagInfo[] {
  const infos = Object.entries(flags)
    .filter(([, f]) => !f.hidden)
    .map(([name, f]): FlagInfo => {
      const names = [`--${name}`, ...(f.char ? [`-${f.char}`] : [])];
      if (f.type === 'boolean' && f.allowNo) names.push(`--no-${name}`);
      const options = f.type === 'option' ? [...((f as { options?: readonly string[] }).options ?? [])] : [];
      return { names, description: oneLine(f.summary ?? f.description ?? ''), takesValue: f.type === 'option', options };
    });
  infos.push({ names: ['--help', '-h'], description: 'Show this command\'s help.', takesValue: false, options: [] });
  return infos.sort((a, b) => a.names[0]!.localeCompare(b.names[0]!));
}

const oneLine = (text: string) => text.split('\n')[0]!.replace(/\s+/g, ' ').trim();

export function completionScript(shell: Shell, model: CompletionModel): string {
  switch (shell) {
    case 'bash':
      return bashScript(model);
    case 'zsh':
      return zshScript(model);
    case 'fish':
      return fishScript(model);
  }
}

/** A word safe inside single quotes in sh, zsh and fish. */
const sq = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "'\\''")}'`;
/** fish has no '\'' : its single quotes take \' and \\. */
const fishQuote = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** The case arms shared by bash and zsh: `_yard_children PATH`, `_yard_flags PATH`, `_yard_values PATH FLAG`, `_yard_long PATH WORD`. */
function shFunctions(model: CompletionModel, fn: string): string {
  const paths = [...new Set([...model.children.keys(), ...model.flags.keys()])].sort();
  const childrenArms = paths
    .filter((p) => model.children.has(p))
    .map((p) => `    ${sq(p)}) echo ${sq(model.children.get(p)!.map((w) => w.word).join(' '))} ;;`)
    .join('\n');
  const flagsOf = (p: string) => (model.flags.get(p) ?? (p === '' ? model.globalFlags : [])).flatMap((f) => f.names);
  const flagArms = paths
    .filter((p) => flagsOf(p).length > 0)
    .map((p) => `    ${sq(p)}) echo ${sq(flagsOf(p).join(' '))} ;;`)
    .join('\n');
  const globalFlags = model.globalFlags.flatMap((f) => f.names).join(' ');
  const valueArms: string[] = [];
  for (const p of ['', ...paths]) {
    const list = model.flags.get(p) ?? (p === '' ? model.globalFlags : []);
    for (const f of list.filter((f) => f.takesValue)) {
      for (const name of f.names) valueArms.push(`    ${sq(`${p}|${name}`)}) echo ${sq(f.options.join(' ') || ' ')} ;;`);
    }
  }
  const topicArms = Object.entries(model.topicShortForms).map(([short, long]) => `    ${sq(`|${short}`)}) candidate=${sq(long)} ;;`);
  const commandArms = Object.entries(model.commandShortForms).map(([short, long]) => `    *${sq(`|${short}`)}) candidate=${sq(long)} ;;`);
  // Names avoid zsh's special parameters (path, status, lines...), as the same functions run there.
  return `${fn}_children() {
  case "$1" in
${childrenArms}
  esac
}

# The flags of a command (the global ones before any command).
${fn}_flags() {
  case "$1" in
${flagArms}
    *) echo ${sq(globalFlags)} ;;
  esac
}

# A flag that takes a value prints its choices (one space when any value goes); one that takes none, nothing.
${fn}_values() {
  case "$1|$2" in
${valueArms.join('\n')}
  esac
}

${fn}_has_child() {
  local child
  for child in $(${fn}_children "$1"); do
    [ "$child" = "$2" ] && return 0
  done
  return 1
}

# A short form's long word, where it names something there and the word itself does not: e -> experiment, ls -> list.
${fn}_long() {
  local candidate=''
  case "$1|$2" in
${[...topicArms, ...commandArms].join('\n')}
  esac
  if [ -n "$candidate" ] && ${fn}_has_child "$1" "$candidate" && ! ${fn}_has_child "$1" "$2"; then
    echo "$candidate"
  else
    echo "$2"
  fi
}

# The command (or topic) the words before the cursor name (all arguments but the last), short forms
# spelled out, flags and their values skipped. Prints it; returns 1 when the last word before the
# cursor is a flag that takes a value.
${fn}_node() {
  local node='' word next skip='' i=1
  while [ "$i" -lt "$#" ]; do
    eval "word=\\\${$i}"
    i=$((i + 1))
    if [ -n "$skip" ]; then skip=''; continue; fi
    case "$word" in
      --) break ;;
      --*=*) continue ;;
      -*)
        if [ -n "$(${fn}_values "$node" "$word")" ]; then skip=1; fi
        continue ;;
    esac
    if [ -z "$node" ] && [ "$word" = help ]; then continue; fi
    if [ -n "$(${fn}_children "$node")" ]; then
      next="$(${fn}_long "$node" "$word")"
      if ${fn}_has_child "$node" "$next"; then node="\${node:+$node }$next"; fi
    fi
  done
  printf '%s\\n' "$node"
  [ -n "$skip" ] && return 1
  return 0
}
`;
}

function bashScript(model: CompletionModel): string {
  const fn = `_${model.bin}`;
  return `# ${model.bin} completion for bash. Load it in ~/.bashrc with:  source <(${model.bin} autocomplete bash)
${shFunctions(model, fn)}
${fn}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev='' node rc word
  [ "$COMP_CWORD" -gt 0 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  # After \`--\` comes a task's own command: files, as bash would.
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do [ "$word" = -- ] && return 0; done
  node="$(${fn}_node "\${COMP_WORDS[@]:1:COMP_CWORD-1}" x)"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    local values
    values="$(${fn}_values "$node" "$prev")"
    [ "$values" != ' ' ] && COMPREPLY=($(compgen -W "$values" -- "$cur"))
    return 0
  fi
  case "$cur" in
    -*) COMPREPLY=($(compgen -W "$(${fn}_flags "$node")" -- "$cur")) ;;
    *) COMPREPLY=($(compgen -W "$(${fn}_children "$node")" -- "$cur")) ;;
  esac
  return 0
}
complete -o default -F ${fn}_complete ${model.bin}
`;
}

function zshScript(model: CompletionModel): string {
  const fn = `_${model.bin}`;
  const described = (words: Word[]) => words.map((w) => sq(`${w.word.replaceAll(':', '\\:')}:${w.description.replaceAll(':', '\\:')}`)).join(' ');
  const childArms = [...model.children.entries()].map(([p, words]) => `    ${sq(p)}) descs=(${described(words)}) ;;`).join('\n');
  const flagDescriptions = (list: FlagInfo[]) => described(list.flatMap((f) => f.names.map((name) => ({ word: name, description: f.description }))));
  const flagArms = [...model.flags.entries()].map(([p, list]) => `      ${sq(p)}) descs=(${flagDescriptions(list)}) ;;`).join('\n');
  return `#compdef ${model.bin}
# ${model.bin} completion for zsh. Load it in ~/.zshrc (after compinit) with:  source <(${model.bin} autocomplete zsh)
# or save it as ${fn} in a directory of $fpath.
${shFunctions(model, fn)}
${fn}() {
  local node rc cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}"
  local -a descs
  # After \`--\` comes a task's own command: files.
  if (( \${words[(I)--]} > 0 && \${words[(I)--]} < CURRENT )); then _files; return; fi
  node="$(${fn}_node "\${(@)words[2,CURRENT-1]}" x)"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    local values
    values="$(${fn}_values "$node" "$prev")"
    if [ "$values" = ' ' ]; then _files; else compadd -- \${=values}; fi
    return
  fi
  if [[ "$cur" == -* ]]; then
    case "$node" in
${flagArms}
      *) descs=(${flagDescriptions(model.globalFlags)}) ;;
    esac
    _describe -t flags 'flag' descs
    return
  fi
  case "$node" in
${childArms}
    *) _files; return ;;
  esac
  _describe -t commands 'command' descs
}

# Autoloaded from $fpath: complete now; sourced: register.
if [ "\${funcstack[1]}" = "${fn}" ]; then
  ${fn} "$@"
else
  compdef ${fn} ${model.bin}
fi
`;
}

function fishScript(model: CompletionModel): string {
  const fn = `__${model.bin}`;
  const lines: string[] = [
    `# ${model.bin} completion for fish. Save it:  ${model.bin} autocomplete fish > ~/.config/fish/completions/${model.bin}.fish`,
    '',
    '# What may follow a path (a topic, or the root).',
    `function ${fn}_children`,
    '    switch $argv[1]',
    ...[...model.children.entries()].flatMap(([p, words]) => [`        case ${fishQuote(p)}`, `            echo ${fishQuote(words.map((w) => w.word).join(' '))}`]),
    '    end',
    'end',
    '',
    '# The flags of a path that take a value.',
    `function ${fn}_takes_value`,
    '    switch "$argv[1]|$argv[2]"',
    ...['', ...model.flags.keys()].flatMap((p) => {
      const list = model.flags.get(p) ?? (p === '' ? model.globalFlags : []);
      const names = list.filter((f) => f.takesValue).flatMap((f) => f.names);
      return names.length ? [`        case ${names.map((n) => fishQuote(`${p}|${n}`)).join(' ')}`, '            return 0'] : [];
    }),
    '    end',
    '    return 1',
    'end',
    '',
    '# A short form spelled out where it names something: e -> experiment, ls -> list.',
    `function ${fn}_long`,
    `    set -l candidate`,
    '    switch $argv[2]',
    ...Object.entries({ ...model.commandShortForms }).flatMap(([s, l]) => [`        case ${fishQuote(s)}`, `            set candidate ${fishQuote(l)}`]),
    '    end',
    '    if test -z "$argv[1]"',
    '        switch $argv[2]',
    ...Object.entries(model.topicShortForms).flatMap(([s, l]) => [`            case ${fishQuote(s)}`, `                set candidate ${fishQuote(l)}`]),
    '        end',
    '    end',
    `    set -l here (string split ' ' -- (${fn}_children $argv[1]))`,
    '    if test -n "$candidate"; and contains -- $candidate $here; and not contains -- $argv[2] $here',
    '        echo $candidate',
    '    else',
    '        echo $argv[2]',
    '    end',
    'end',
    '',
    '# The command (or topic) the words typed so far name.',
    `function ${fn}_path`,
    '    set -l path ""',
    '    set -l skip 0',
    '    set -l tokens (commandline -opc)',
    '    set -e tokens[1]',
    '    for word in $tokens',
    '        if test $skip -eq 1',
    '            set skip 0',
    '            continue',
    '        end',
    '        switch $word',
    '            case --',
    '                echo "--"',
    '                return',
    "            case '--*=*'",
    '                continue',
    "            case '-*'",
    `                if ${fn}_takes_value "$path" $word`,
    '                    set skip 1',
    '                end',
    '                continue',
    '        end',
    '        if test -z "$path"; and test "$word" = help',
    '            continue',
    '        end',
    `        set -l here (string split ' ' -- (${fn}_children "$path"))`,
    '        if test (count $here) -gt 0',
    `            set -l next (${fn}_long "$path" $word)`,
    '            if contains -- $next $here',
    '                set path (string trim -- "$path $next")',
    '            end',
    '        end',
    '    end',
    '    echo $path',
    'end',
    '',
    `function ${fn}_at`,
    `    test (${fn}_path) = "$argv[1]"`,
    'end',
    '',
    `complete -c ${model.bin} -e`,
  ];
  for (const [p, words] of model.children) {
    for (const w of words) lines.push(`complete -c ${model.bin} -f -n ${fishQuote(`${fn}_at ${fishQuote(p)}`)} -a ${fishQuote(w.word)} -d ${fishQuote(w.description)}`);
  }
  const flagLine = (condition: string, f: FlagInfo) => {
    const long = f.names.filter((n) => n.startsWith('--')).map((n) => `-l ${n.slice(2)}`);
    const short = f.names.filter((n) => /^-[^-]$/.test(n)).map((n) => `-s ${n.slice(1)}`);
    const value = f.takesValue ? (f.options.length ? ` -x -a ${fishQuote(f.options.join(' '))}` : ' -r') : '';
    return `complete -c ${model.bin} -n ${fishQuote(condition)} ${[...short, ...long].join(' ')}${value} -d ${fishQuote(f.description)}`;
  };
  for (const f of model.globalFlags) lines.push(flagLine(`${fn}_at ''`, f));
  for (const [p, list] of model.flags) for (const f of list) lines.push(flagLine(`${fn}_at ${fishQuote(p)}`, f));
  return `${lines.join('\n')}\n`;
}
