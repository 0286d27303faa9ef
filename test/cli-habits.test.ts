import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { spawn as spawnPty } from 'node-pty';
import { parse as parseYaml } from 'yaml';
import type { Page, Task, TaskLogPage, TaskSummary } from '@trainyard/shared';
import { COMMANDS } from '@trainyard/cli';
import { api, loginToken } from './helpers/api.js';
import { eachHelp, loggedInTerminals, ROOT, Terminal, terminalEnv, YARD, type RunResult } from './helpers/cli.js';
import { FAST_AGENTS, startRegisteredAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { createUsers } from './helpers/fixtures.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// The habits people bring from det, kubectl and gh, tried as they would: the real CLI against a real
// master with a real process agent; completion scripts sourced in real shells; a real terminal
// (node-pty) where colours and prompts depend on one.
const AGENT = 'habits-1';
const image = process.env.YARD_TEST_IMAGE ?? 'busybox:latest';
let m: TestMaster;
let agent: AgentProcess;
let dir = '';
let admin = '';
const tokens: Record<string, string> = {};
const terms: Record<string, Terminal> = {};

test.before(async () => {
  dir = tempDir('yard-habits-');
  // Quick heartbeats, but a loaded machine must not make the agent LOST in the middle of a test.
  m = await startTestMaster({ agents: { ...FAST_AGENTS, lost_timeout: '60s', lease_timeout: '60s', token_file: path.join(dir, 'agent.token') } }, dir);
  const people = ['alice', 'bob', 'carol', 'dave'];
  Object.assign(tokens, await createUsers(m.url, people));
  admin = tokens.admin!;
  Object.assign(terms, await loggedInTerminals(m.url, people));
  agent = await startRegisteredAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, admin, { name: AGENT, executor: 'process' });
});

test.after.always(async () => {
  await agent?.kill('SIGKILL');
  await m?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const submit = async (user: string, command: string, extra: Record<string, unknown> = {}) => {
  const created = await api<Task>(m.url, 'POST', '/tasks', { token: tokens[user], body: { kind: 'command', config: { image, entrypoint: ['sh', '-c', command], ...extra } } });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
};
const ended = (id: number) =>
  waitFor(`task ${id} to end`, async () => {
    const task = (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: admin })).body;
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, 60_000);
const noStack = (t: { notRegex(s: string, r: RegExp, m?: string): void }, result: RunResult) => {
  t.notRegex(result.stderr + result.stdout, /\n\s+at \S+ \(|TypeError|Cannot read properties/, 'no stack trace');
};
/** RFC 4180, as a spreadsheet reads it: quoted cells may hold commas and doubled quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.trimEnd().split('\n')) {
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') (cell += '"'), i++;
        else if (c === '"') quoted = false;
        else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') cells.push(cell), (cell = '');
      else cell += c;
    }
    cells.push(cell);
    rows.push(cells);
  }
  return rows;
}

/** A real terminal: `yard ARGS` in a pty, `answer` typed when `prompt` shows; its output (colours and all) and exit code. */
async function inTerminal(term: Terminal, args: string[], options: { env?: Record<string, string>; prompt?: RegExp; answer?: string } = {}) {
  const env = terminalEnv(term, { TERM: 'xterm-256color', ...options.env });
  const pty = spawnPty(process.execPath, [YARD, ...args], { cols: 200, rows: 40, cwd: ROOT, env });
  let output = '';
  let answered = false;
  const exited = new Promise<number>((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
  pty.onData((data) => {
    output += data;
    if (options.prompt && !answered && options.prompt.test(output)) {
      answered = true;
      setTimeout(() => pty.write(`${options.answer ?? ''}\r`), 100);
    }
  });
  const limit = setTimeout(() => pty.kill('SIGKILL'), 30_000);
  const code = await exited;
  clearTimeout(limit);
  return { code, output, answered };
}

const ESC = '\x1b[';

// ---------------------------------------------------------------- completion

/** What `complete` offers in a real bash for the words typed (the last one is the word being completed). */
function bashComplete(script: string, lines: string[][]): string[] {
  const file = path.join(dir, 'yard.bash');
  writeFileSync(file, script);
  const calls = lines
    .map((words) => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _yard_complete; echo "\${COMPREPLY[*]}"`)
    .join('\n');
  const result = spawnSync('bash', ['--norc', '--noprofile', '-c', `source '${file}'\ncomplete -p yard\n${calls}`], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.split('\n');
}

test('bash: the script of `yard autocomplete bash`, sourced in a real bash, completes topics, commands, flags, their values and short forms', async (t) => {
  const script = await terms.alice!.run(['autocomplete', 'bash']);
  t.is(script.code, 0, script.stderr);
  const [registered, ...offers] = bashComplete(script.stdout, [
    ['yard', ''],
    ['yard', 'ex'],
    ['yard', 'experiment', ''],
    ['yard', 'e', ''],
    ['yard', 'e', 'l'],
    ['yard', 'experiment', 'list', '--a'],
    ['yard', 'task', 'list', '-o', ''],
    ['yard', '-u', 'admin', 'use'],
    ['yard', '-u', 'admin', 'user', 'l'],
    ['yard', 'a', 'token', ''],
    ['yard', 'help', 'ex'],
    ['yard', 'user', 'create', '--auth', ''],
    ['yard', '-m', 'http://x:1', 'e', 'ls', '--fie'],
    ['yard', 'command', 'run', '--', 'sh', ''],
    ['yard', 'context', ''],
    ['yard', 'task', 'list', '--state', 'R'],
  ]);
  t.regex(registered!, /complete .*-F _yard_complete yard$/);
  const [root, ex, experiment, e, el, flags, output, us, userL, agentToken, help, auth, fields, afterDashes, context, state] = offers.map((o) => o.trim());
  for (const topic of ['agent', 'experiment', 'notebook', 'command', 'tensorboard', 'shell', 'task', 'user', 'context', 'version', 'autocomplete', 'help']) {
    t.true(root!.split(' ').includes(topic), `the root offers ${topic}: ${root}`);
  }
  t.is(ex, 'experiment');
  t.is(experiment, 'create describe kill list logs');
  t.is(e, 'create describe kill list logs', 'e is experiment');
  t.is(el, 'list logs');
  t.is(flags, '--after --all');
  t.is(output, 'table wide json yaml csv name');
  t.is(us, 'user', 'global flags and their values before the command are skipped');
  t.is(userL, 'link-with-agent-user list login logout');
  t.is(agentToken, 'create list revoke', 'a is agent');
  t.is(help, 'experiment', 'help completes topics');
  t.is(auth, 'internal ldap pam file');
  t.is(fields, '--fields');
  t.is(afterDashes, '', "after -- comes the task's own command: yard offers nothing (bash completes files)");
  t.is(context, 'add current list remove use');
  t.is(state, 'RUNNING', 'a filter flag completes its values');
});

test('zsh and fish: their scripts complete the same in real shells', async (t) => {
  const have = (shell: string) => spawnSync(shell, ['-c', 'true']).status === 0;
  if (!have('zsh') || !have('fish')) {
    t.log('!!! zsh or fish is not installed (apt-get install zsh fish): their completion scripts are NOT tested');
    t.pass();
    return;
  }
  const zshScript = await terms.alice!.run(['autocomplete', 'zsh']);
  const fishScript = await terms.alice!.run(['autocomplete', 'fish']);
  t.is(zshScript.code, 0, zshScript.stderr);
  t.is(fishScript.code, 0, fishScript.stderr);
  t.regex(zshScript.stdout, /^#compdef yard$/m);
  writeFileSync(path.join(dir, '_yard'), zshScript.stdout);
  writeFileSync(path.join(dir, 'yard.fish'), fishScript.stdout);

  // zsh: the script's function, called as the completion system calls it (words, CURRENT), with
  // the system's _describe, compadd and _files standing in to print what they were given.
  const zsh = spawnSync('zsh', ['-f', '-c', [
    'compdef() { :; }',
    '_describe() { print -l -- "${(@P)4}" }',
    '_files() { print FILES }',
    'compadd() { shift; print -l -- "$@" }',
    `source '${path.join(dir, '_yard')}'`,
    'c() { words=("$@"); CURRENT=${#words}; print -- "--- $*"; _yard }',
    "c yard e ''",
    "c yard -u admin e ls -o ''",
    'c yard e ls --al',
    "c yard command run -- sh ''",
  ].join('\n')], { encoding: 'utf8' });
  t.is(zsh.status, 0, zsh.stderr);
  const zshOut = zsh.stdout.split('--- ').slice(1);
  t.regex(zshOut[0]!, /^list:List your experiments/m, 'commands with their summaries');
  t.regex(zshOut[0]!, /^describe:Show an experiment\\: state/m, 'colons in descriptions escaped');
  t.deepEqual(zshOut[1]!.trim().split('\n').slice(1), ['table', 'wide', 'json', 'yaml', 'csv', 'name']);
  t.regex(zshOut[2]!, /^--all:Show every user's tasks/m);
  t.regex(zshOut[3]!, /^FILES$/m);

  const fish = spawnSync('fish', ['--no-config', '-c', `source '${path.join(dir, 'yard.fish')}'; complete -C'yard e '; echo ---; complete -C'yard -u admin e ls -o '; echo ---; complete -C'yard a token l'; echo ---; complete -C'yard help ex'`], { encoding: 'utf8' });
  t.is(fish.status, 0, fish.stderr);
  const [fishE, fishOutput, fishToken, fishHelp] = fish.stdout.split('---\n').map((s) => s.trim().split('\n').map((l) => l.split('\t')[0]));
  t.deepEqual(fishE, ['create', 'describe', 'kill', 'list', 'logs']);
  t.deepEqual(fishOutput!.sort(), ['csv', 'json', 'name', 'table', 'wide', 'yaml']);
  t.deepEqual(fishToken, ['list']);
  t.deepEqual(fishHelp, ['experiment']);
});

test('`yard autocomplete` without a shell says how to set it up for $SHELL; an unknown shell is a usage error', async (t) => {
  const how = await terms.alice!.run(['autocomplete'], { env: { SHELL: '/usr/bin/fish' } });
  t.is(how.code, 0, how.stderr);
  t.regex(how.stdout, /yard autocomplete fish > ~\/\.config\/fish\/completions\/yard\.fish/);
  const bad = await terms.alice!.run(['autocomplete', 'tcsh']);
  t.is(bad.code, 2);
  noStack(t, bad);
});

// ---------------------------------------------------------------- discoverable

test('a mistyped command or topic: did you mean, in yard\'s words (never oclif\'s ids), exit 2', async (t) => {
  const alice = terms.alice!;
  const cases: Array<[string[], RegExp]> = [
    [['experment', 'list'], /^Error: 'experment list' is not a yard command\. Did you mean 'experiment list'\?$/m],
    [['experiment', 'lst'], /Did you mean 'experiment list'\?$/m],
    [['experment'], /^Error: 'experment' is not a yard command\. Did you mean 'experiment'\?$/m],
    [['task', 'kil', '12'], /^Error: 'task kil' is not a yard command\. Did you mean 'task kill'\?$/m],
    [['experment', 'ls', '-a'], /Did you mean 'experiment list'\?$/m],
    [['experiment', 'frobnicate'], /^Error: 'experiment frobnicate' is not a yard command; the experiment commands are: create, describe, kill, list, logs$/m],
    [['experiment', 'list', 'extra'], /^Error: 'experiment list' takes no argument 'extra'$/m],
    [['help', 'experment'], /Did you mean 'experiment'\?$/m],
  ];
  for (const [args, said] of cases) {
    const result = await alice.run(args);
    t.is(result.code, 2, args.join(' '));
    t.regex(result.stderr, said, args.join(' '));
    t.notRegex(result.stderr, /[a-z]:[a-z]/, `${args.join(' ')}: no oclif id`);
    t.is(result.stdout, '');
    noStack(t, result);
  }
});

test('yard help TOPIC and yard help TOPIC COMMAND print help; yard help lists the short forms', async (t) => {
  const alice = terms.alice!;
  const topic = await alice.run(['help', 'user']);
  t.is(topic.code, 0, topic.stderr);
  t.regex(topic.stdout, /^USAGE\n\s+\$ yard user COMMAND/m);
  t.regex(topic.stdout, /^\s+user list\s+List active users/m);
  const command = await alice.run(['help', 'user', 'list']);
  t.is(command.code, 0, command.stderr);
  t.regex(command.stdout, /^USAGE\n\s+\$ yard user list/m);
  t.regex(command.stdout, /--all/);
  const short = await alice.run(['help', 'e', 'ls']);
  t.is(short.stdout, (await alice.run(['experiment', 'list', '--help'])).stdout, 'yard help e ls is the help of experiment list');
  const root = await alice.run(['help']);
  t.is(root.code, 0);
  t.regex(root.stdout, /^SHORT FORMS\n\s+Topics: a agent, cmd command, e experiment, nb notebook, t task, tb tensorboard, u user\.\n\s+Commands: ls list, rm delete/m);
  t.is((await alice.run([])).stdout, root.stdout, 'yard alone is yard help');
});

test('short forms: yard e ls, t ls, cmd ls, nb ls, tb ls work as the long ones, global flags before them too', async (t) => {
  const alice = terms.alice!;
  const task = await submit('alice', 'echo short');
  await ended(task.id);
  const long = await alice.json<Page<TaskSummary>>(['task', 'list']);
  t.true(long.items.some((i) => i.id === task.id));
  t.deepEqual(await alice.json<Page<TaskSummary>>(['t', 'ls']), long);
  t.deepEqual(await alice.json<Page<TaskSummary>>(['cmd', 'ls']), await alice.json<Page<TaskSummary>>(['command', 'list']));
  const e = await alice.run(['e', 'ls']);
  t.is(e.code, 0, e.stderr);
  t.is(e.stdout, (await alice.run(['experiment', 'list'])).stdout);
  for (const args of [['nb', 'ls'], ['tb', 'ls'], ['u', 'whoami'], ['-u', 'admin', 'a', 'ls']]) {
    const result = await alice.run(args, { env: { YARD_PASSWORD: '' } });
    t.is(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  }
  t.is((await alice.run(['u', 'whoami'])).stdout.trim(), 'alice');
  t.is((await alice.run(['cmd', 'logs', String(task.id)])).stdout.trim().split('\n').includes('short'), true);
});

// ---------------------------------------------------------------- colour

test('colour: states and errors on a terminal; never through a pipe, with NO_COLOR or --no-color', async (t) => {
  const bob = terms.bob!;
  const done = await submit('bob', 'true');
  await ended(done.id);
  const green = `${ESC}32mCOMPLETED${ESC}39m`;
  const tty = await inTerminal(bob, ['task', 'list']);
  t.is(tty.code, 0, tty.output);
  t.true(tty.output.includes(green), `a terminal gets the state in green: ${JSON.stringify(tty.output)}`);
  const describe = await inTerminal(bob, ['task', 'describe', String(done.id)]);
  t.true(describe.output.includes(green), 'describe too');
  const noColor = await inTerminal(bob, ['task', 'list'], { env: { NO_COLOR: '1' } });
  t.is(noColor.code, 0);
  t.false(noColor.output.includes(ESC), 'NO_COLOR: none');
  const flag = await inTerminal(bob, ['task', 'list', '--no-color']);
  t.false(flag.output.includes(ESC), '--no-color: none');
  // (Errors are said as the process ends, which a pty may not pass on before its exit: FORCE_COLOR stands in for it.)
  const error = await bob.run(['experment'], { env: { FORCE_COLOR: '1' } });
  t.is(error.code, 2);
  t.true(error.stderr.startsWith(`${ESC}31mError:${ESC}39m`), 'errors red');
  t.true(error.stderr.includes(`${ESC}33mHint:${ESC}39m`));
  const helpNoColor = await inTerminal(bob, ['--no-color', 'help', 'task']);
  t.false(helpNoColor.output.includes(ESC), 'oclif\'s help too');

  const piped = await bob.run(['task', 'list']);
  t.regex(piped.stdout, new RegExp(`^${done.id}\\s.*COMPLETED`, 'm'));
  t.false(piped.stdout.includes(ESC) || piped.stderr.includes(ESC), 'a pipe: none');
  t.false((await bob.run(['experment'])).stderr.includes(ESC));
  const forced = await bob.run(['task', 'list'], { env: { FORCE_COLOR: '1' } });
  t.true(forced.stdout.includes(green), 'FORCE_COLOR forces it');
  t.false((await bob.run(['task', 'list'], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } })).stdout.includes(ESC), 'NO_COLOR wins');
});

// ---------------------------------------------------------------- output

test('-o json|yaml|csv|name|wide and --fields on task lists: json is --json, yaml parses to the same, csv has a header and quotes', async (t) => {
  const carol = terms.carol!;
  const tricky = await submit('carol', 'true', { name: 'a, "quoted" name' });
  const plain = await submit('carol', 'exit 3', { name: 'plain' });
  await ended(tricky.id);
  await ended(plain.id);

  const json = await carol.run(['task', 'list', '-o', 'json']);
  t.is(json.code, 0, json.stderr);
  const page = JSON.parse(json.stdout) as Page<TaskSummary>;
  t.deepEqual(page, await carol.json<Page<TaskSummary>>(['task', 'list']), '-o json is what --json prints');
  t.deepEqual(parseYaml((await carol.run(['task', 'list', '-o', 'yaml'])).stdout), page, 'yaml parses to the same');

  const csv = parseCsv((await carol.run(['task', 'list', '-o', 'csv'])).stdout);
  t.deepEqual(csv[0], ['ID', 'OWNER', 'GROUP', 'KIND', 'STATE', 'NAME', 'RUN AS', 'AGENT', 'CREATED', 'STARTED', 'ENDED', 'EXIT CODE', 'RESTARTS', 'REASON']);
  t.is(csv.length, page.items.length + 1);
  const trickyRow = csv.find((r) => r[0] === String(tricky.id))!;
  t.is(trickyRow[5], 'a, "quoted" name', 'a comma and quotes survive');
  t.is(trickyRow[4], 'COMPLETED');
  t.is(trickyRow[9], page.items.find((i) => i.id === tricky.id)!.startedAt!, 'times as ISO, not local');
  t.is(csv.find((r) => r[0] === String(plain.id))![11], '3');

  const names = (await carol.run(['task', 'list', '-o', 'name'])).stdout.trim().split('\n');
  t.deepEqual(names, page.items.map((i) => String(i.id)));

  const wide = (await carol.run(['task', 'list', '-o', 'wide'])).stdout.split('\n')[0]!;
  t.regex(wide, /^ID\s+OWNER\s+GROUP\s+KIND\s+STATE\s+NAME\s+RUN AS\s+AGENT\s+CREATED\s+STARTED\s+ENDED\s+EXIT CODE\s+RESTARTS\s+REASON$/);
  const table = (await carol.run(['task', 'list'])).stdout.split('\n')[0]!;
  t.regex(table, /^ID\s+OWNER\s+KIND\s+STATE\s+NAME\s+RUN AS\s+AGENT\s+STARTED\s+REASON$/, 'the table as before');

  const picked = JSON.parse((await carol.run(['task', 'list', '-o', 'json', '--fields', 'id,state,owner,runAs.uid'])).stdout) as Page<Record<string, unknown>>;
  t.deepEqual(picked.items[0] && Object.keys(picked.items[0]).sort(), ['id', 'owner', 'runAs', 'state']);
  t.deepEqual(Object.keys(picked.items[0]!.runAs as object), ['uid'], 'nested fields keep their place');
  t.is(picked.next, page.next);
  const pickedCsv = parseCsv((await carol.run(['task', 'list', '-o', 'csv', '--fields', 'id,state,name'])).stdout);
  t.deepEqual(pickedCsv[0], ['ID', 'STATE', 'NAME']);
  t.deepEqual(pickedCsv.find((r) => r[0] === String(tricky.id)), [String(tricky.id), 'COMPLETED', 'a, "quoted" name']);
  const pickedTable = (await carol.run(['task', 'list', '--fields', 'id,exitCode'])).stdout.split('\n');
  t.regex(pickedTable[0]!, /^ID\s+EXIT CODE$/);

  const typo = await carol.run(['task', 'list', '-o', 'json', '--fields', 'id,stat']);
  t.is(typo.code, 2);
  t.regex(typo.stderr, /^Error: --fields: there is no field 'stat' here; there are: id, kind, owner, state/m);
  const both = await carol.run(['task', 'list', '-o', 'yaml', '--json']);
  t.is(both.code, 2, both.stdout);
  const bogus = await carol.run(['task', 'list', '-o', 'xml']);
  t.is(bogus.code, 2);
  t.regex(bogus.stderr, /table, wide, json, yaml, csv, name/);
  noStack(t, bogus);
});

test('-o on shows and on every other list: describe, user, group, role, agent, audit, quota, sessions', async (t) => {
  const carol = terms.carol!;
  const task = await submit('carol', 'true');
  await ended(task.id);
  const described = parseYaml((await carol.run(['task', 'describe', String(task.id), '-o', 'yaml'])).stdout) as Task;
  t.is(described.id, task.id);
  t.deepEqual(described, await carol.json<Task>(['task', 'describe', String(task.id)]));
  t.deepEqual(JSON.parse((await carol.run(['command', 'describe', String(task.id), '-o', 'json', '--fields', 'id,state'])).stdout), { id: task.id, state: 'COMPLETED' });
  t.deepEqual(parseCsv((await carol.run(['task', 'describe', String(task.id), '-o', 'csv', '--fields', 'id,kind'])).stdout), [['ID', 'KIND'], [String(task.id), 'command']]);

  const asAdmin = { env: { YARD_PASSWORD: '' } };
  const users = parseCsv((await carol.run(['-u', 'admin', 'user', 'list', '-o', 'csv', '--fields', 'username,active'], asAdmin)).stdout);
  t.deepEqual(users[0], ['NAME', 'ACTIVE'], "a field the table shows keeps the table's header");
  t.true(users.some((r) => r[0] === 'carol' && r[1] === 'true'));
  t.true((await carol.run(['-u', 'admin', 'user', 'list', '-o', 'name'], asAdmin)).stdout.split('\n').includes('carol'));
  await api(m.url, 'POST', '/groups', { token: admin, body: { path: 'habits' } });
  t.true((await carol.run(['-u', 'admin', 'group', 'list', '-o', 'name'], asAdmin)).stdout.split('\n').includes('habits'));
  t.is((parseYaml((await carol.run(['-u', 'admin', 'group', 'show', 'habits', '-o', 'yaml'], asAdmin)).stdout) as { path: string }).path, 'habits');
  t.true((await carol.run(['-u', 'admin', 'role', 'list', '-o', 'name'], asAdmin)).stdout.split('\n').includes('admin'));
  t.regex((await carol.run(['-u', 'admin', 'agent', 'list', '-o', 'wide'], asAdmin)).stdout, /^ID\s+STATE.*VERSION.*LAST SEEN\s+LABELS$/m);
  t.notRegex((await carol.run(['-u', 'admin', 'agent', 'list'], asAdmin)).stdout, /LABELS/, 'labels only in the wide table');
  t.deepEqual((await carol.run(['-u', 'admin', 'agent', 'list', '-o', 'name'], asAdmin)).stdout.trim().split('\n'), [AGENT]);
  const audit = parseYaml((await carol.run(['-u', 'admin', 'audit', 'list', '-o', 'yaml'], asAdmin)).stdout) as Page<{ action: string }>;
  t.true(audit.items.some((e) => e.action === 'group.create'));
  t.is(parseCsv((await carol.run(['user', 'sessions', '-o', 'csv'])).stdout)[0]![0], 'ID');
  t.is((await carol.run(['quota', 'show', '-o', 'csv'])).code, 0);
  t.is((await carol.run(['policy', 'show', '-o', 'name'])).stdout.split('\n')[0], 'images.allow');
  t.is((await carol.run(['queue', '-o', 'json'])).code, 0);
});

// ---------------------------------------------------------------- filters

test('filters: task list -a --state RUNNING --owner NAME -o csv prints only those, with a header; -o yaml parses; done by the master, in keyset pages', async (t) => {
  for (const name of ['fran', 'gus']) {
    await api(m.url, 'POST', '/users', { token: admin, body: { username: name, password: 'pw' } });
    tokens[name] = await loginToken(m.url, name, 'pw');
  }
  await api(m.url, 'POST', '/groups', { token: admin, body: { path: 'filters' } });
  t.is((await api(m.url, 'POST', '/groups/filters/members', { token: admin, body: { username: 'fran' } })).status, 200);
  const franRunning = await submit('fran', 'sleep 600', { name: 'train-resnet' });
  const franGrouped = await submit('fran', 'sleep 600', { name: 'train-bert', group: 'filters' });
  const franDone = await submit('fran', 'true', { name: 'eval-resnet' });
  const gusRunning = await submit('gus', 'sleep 600', { name: 'train-gus' });
  t.teardown(async () => {
    for (const task of [franRunning, franGrouped, gusRunning]) await api(m.url, 'POST', `/tasks/${task.id}/kill`, { token: admin });
  });
  await ended(franDone.id);
  for (const task of [franRunning, franGrouped, gusRunning]) {
    await waitFor(`task ${task.id} to run`, async () => (await api<Task>(m.url, 'GET', `/tasks/${task.id}`, { token: admin })).body.state === 'RUNNING');
  }
  const gus = new Terminal(m.url);
  t.is((await gus.run(['user', 'login', 'gus', '--password-stdin'], { input: 'pw\n' })).code, 0);

  const csv = await gus.run(['task', 'list', '-a', '--state', 'RUNNING', '--owner', 'fran', '-o', 'csv']);
  t.is(csv.code, 0, csv.stderr);
  const rows = parseCsv(csv.stdout);
  t.deepEqual(rows[0]!.slice(0, 6), ['ID', 'OWNER', 'GROUP', 'KIND', 'STATE', 'NAME']);
  t.deepEqual(rows.slice(1).map((r) => [Number(r[0]), r[1], r[4]]), [
    [franGrouped.id, 'fran', 'RUNNING'],
    [franRunning.id, 'fran', 'RUNNING'],
  ], 'only fran\'s running tasks, newest first');
  const yaml = parseYaml((await gus.run(['task', 'list', '-a', '--state', 'RUNNING', '--owner', 'fran', '-o', 'yaml'])).stdout) as Page<TaskSummary>;
  t.deepEqual(yaml.items.map((i) => i.id), [franGrouped.id, franRunning.id]);

  const ids = async (args: string[]) => (await gus.json<Page<TaskSummary>>(['task', 'list', ...args])).items.map((i) => i.id);
  t.deepEqual(await ids(['--owner', 'fran', '--state', 'COMPLETED']), [franDone.id]);
  t.deepEqual(await ids(['--owner', 'fran', '--state', 'COMPLETED,RUNNING']), [franDone.id, franGrouped.id, franRunning.id]);
  t.deepEqual(await ids(['--owner', 'fran', '--state', 'COMPLETED', '--state', 'RUNNING']), [franDone.id, franGrouped.id, franRunning.id], 'repeated as well');
  t.deepEqual(await ids(['-a', '--group', 'filters']), [franGrouped.id]);
  t.deepEqual(await ids(['-a', '--name', 'train-*', '--since', '1h']), [gusRunning.id, franGrouped.id, franRunning.id]);
  t.deepEqual(await ids(['-a', '--name', 'TRAIN-?ERT']), [franGrouped.id], 'a glob, any case');
  t.deepEqual(await ids(['-a', '--name', 'train-*', '--until', '2000-01-01']), []);
  t.deepEqual(await ids(['-a', '--name', 'train-*', '--pool', 'default']), [gusRunning.id, franGrouped.id, franRunning.id]);
  t.deepEqual(await ids(['-a', '--name', 'train-*', '--pool', 'gpu']), [], 'no task is in another pool');
  t.deepEqual(await ids(['--state', 'RUNNING']), [gusRunning.id], 'without -a or --owner: your own');
  t.deepEqual((await gus.json<Page<TaskSummary>>(['command', 'list', '--owner', 'fran', '--state', 'RUNNING'])).items.map((i) => i.id), [franGrouped.id, franRunning.id], 'every kind\'s list');
  t.deepEqual((await gus.json<Page<TaskSummary>>(['t', 'ls', '--owner', 'fran'])).items, (await gus.json<Page<TaskSummary>>(['task', 'list', '--owner', 'fran'])).items);

  // Keyset pages of what matches: --limit 1, then --after the page's next.
  const first = await gus.json<Page<TaskSummary>>(['task', 'list', '--owner', 'fran', '--state', 'RUNNING', '--limit', '1']);
  t.deepEqual(first.items.map((i) => i.id), [franGrouped.id]);
  t.truthy(first.next);
  const second = await gus.json<Page<TaskSummary>>(['task', 'list', '--owner', 'fran', '--state', 'RUNNING', '--limit', '1', '--after', first.next!]);
  t.deepEqual(second.items.map((i) => i.id), [franRunning.id]);
  const paged = await gus.run(['task', 'list', '--owner', 'fran', '--state', 'RUNNING', '--limit', '1']);
  t.regex(paged.stderr, /showing the newest 1; more with --limit, or --after /);
  t.notRegex((await gus.run(['task', 'list', '--owner', 'fran', '--limit', '1', '-o', 'csv'])).stderr, /showing/, 'no note beside machine output');

  const badState = await gus.run(['task', 'list', '--state', 'RUNING']);
  t.is(badState.code, 2);
  t.regex(badState.stderr, /RUNING.*QUEUED, ASSIGNED, PULLING, RUNNING/s);
  const badSince = await gus.run(['task', 'list', '--since', 'last week']);
  t.is(badSince.code, 2);
  t.regex(badSince.stderr, /--since: 'last week' is not a duration back from now/);
  const nobody = await gus.run(['task', 'list', '--owner', 'nobody']);
  t.is(nobody.code, 1);
  noStack(t, nobody);
});

// ---------------------------------------------------------------- logs

test('logs --tail N reads only the last N lines on the master; --since starts at a time; --timestamps prefixes each line', async (t) => {
  const dave = terms.dave!;
  const task = await submit('dave', 'i=1; while [ $i -le 3000 ]; do echo "line $i"; i=$((i+1)); done');
  t.is((await ended(task.id)).state, 'COMPLETED');
  // Every line, as the API pages them.
  const all: TaskLogPage['items'] = [];
  for (let after = 0; ; ) {
    const page = (await api<TaskLogPage>(m.url, 'GET', `/tasks/${task.id}/logs?after=${after}&limit=5000`, { token: tokens.dave })).body;
    all.push(...page.items);
    if (page.items.length === 0 || page.done) break;
    after = page.next;
  }
  t.true(all.length >= 3000);
  const last = all.at(-1)!.seq;

  // On the master: tail=5 answers those five and nothing before them.
  const tailed = (await api<TaskLogPage>(m.url, 'GET', `/tasks/${task.id}/logs?tail=5`, { token: tokens.dave })).body;
  t.deepEqual(tailed.items.map((l) => l.seq), [last - 4, last - 3, last - 2, last - 1, last]);
  t.is(tailed.next, last);

  const five = await dave.run(['command', 'logs', String(task.id), '--tail', '5']);
  t.is(five.code, 0, five.stderr);
  t.deepEqual(five.stdout.trimEnd().split('\n'), all.slice(-5).map((l) => l.line));
  const json = await dave.json<{ items: TaskLogPage['items'] }>(['task', 'logs', String(task.id), '-n', '3']);
  t.is(json.items.length, 3);

  const stamped = (await dave.run(['task', 'logs', String(task.id), '--tail', '2', '--timestamps'])).stdout.trimEnd().split('\n');
  t.deepEqual(stamped, all.slice(-2).map((l) => `${l.time} ${l.line}`));
  t.regex(stamped[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);

  // --since: lines written at or after a time (ISO), or in the last while (the master's clock).
  const middle = all[Math.floor(all.length / 2)]!;
  const since = await dave.run(['task', 'logs', String(task.id), '--since', middle.time]);
  t.deepEqual(since.stdout.trimEnd().split('\n'), all.filter((l) => l.time >= middle.time).map((l) => l.line));
  t.is((await dave.run(['task', 'logs', String(task.id), '--since', '1h'])).stdout.trimEnd().split('\n').length, all.length);
  const future = await dave.run(['task', 'logs', String(task.id), '--since', new Date(Date.now() + 3_600_000).toISOString()]);
  t.is(future.code, 0);
  t.is(future.stdout, '');
  const both = await dave.run(['task', 'logs', String(task.id), '--since', '1h', '--tail', '4']);
  t.deepEqual(both.stdout.trimEnd().split('\n'), all.slice(-4).map((l) => l.line));

  // -f with --tail: the last lines, then (it ended) the exit status.
  const follow = await dave.run(['task', 'logs', String(task.id), '-f', '--tail', '2']);
  t.is(follow.code, 0, follow.stderr);
  t.deepEqual(follow.stdout.trimEnd().split('\n'), all.slice(-2).map((l) => l.line));

  const bad = await dave.run(['task', 'logs', String(task.id), '--since', 'yesterday']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--since: 'yesterday' is not a duration back from now such as 10m/);
  const badApi = await api(m.url, 'GET', `/tasks/${task.id}/logs?since=yesterday`, { token: tokens.dave });
  t.is(badApi.status, 400);
  t.regex(badApi.body.error.message, /since: 'yesterday' is not a duration back from now/);
});

// ---------------------------------------------------------------- contexts

test('contexts: add, use, list, current, remove; -m and YARD_MASTER win; logins stay per master; settings from before carry over', async (t) => {
  const other = await startTestMaster();
  t.teardown(() => other.stop());
  await api(other.url, 'POST', '/users', { token: await loginToken(other.url, 'admin'), body: { username: 'olga', password: 'pw' } });
  // A settings file as conf wrote it before (tab-indented), with alice logged in on the first master.
  const term = new Terminal('');
  mkdirSync(path.join(term.configDir, 'yard'), { recursive: true });
  writeFileSync(path.join(term.configDir, 'yard', 'settings.json'), JSON.stringify({ masters: { [m.url]: { activeUser: 'alice' } } }, undefined, '\t'));
  writeFileSync(term.tokenFile, readFileSync(terms.alice!.tokenFile));
  const env = { YARD_MASTER: undefined };

  t.regex((await term.run(['context', 'list'], { env })).stdout, /^No contexts/);
  t.is((await term.run(['context', 'add', 'first', m.url], { env })).code, 0);
  const added = await term.run(['context', 'add', 'second', other.url.replace('http://', ''), '--use'], { env });
  t.is(added.code, 0, added.stderr);
  t.regex(added.stdout, /^Added context second: http:\/\/127\.0\.0\.1:\d+; it is the current context now\.$/m);
  t.is((await term.run(['context', 'current'], { env })).stdout.trim(), `second (${other.url})`);

  // The second master: nobody logged in there; olga logs in there only.
  t.is((await term.run(['user', 'whoami'], { env })).stdout.trim(), 'yard');
  t.is((await term.run(['user', 'login', 'olga', '--password-stdin'], { env, input: 'pw\n' })).code, 0);
  t.is((await term.run(['user', 'whoami'], { env })).stdout.trim(), 'olga');
  t.is((await term.run(['context', 'use', 'first'], { env })).code, 0);
  t.is((await term.run(['user', 'whoami'], { env })).stdout.trim(), 'alice', "the first master's login, kept from before");
  const listed = await term.run(['context', 'list'], { env });
  t.regex(listed.stdout, /^CURRENT\s+NAME\s+MASTER\s+USER$/m);
  t.regex(listed.stdout, new RegExp(`^\\*\\s+first\\s+${m.url}\\s+alice$`, 'm'));
  t.regex(listed.stdout, new RegExp(`^\\s+second\\s+${other.url}\\s+olga$`, 'm'));
  t.deepEqual(JSON.parse((await term.run(['context', 'list', '-o', 'json', '--fields', 'name,current'], { env })).stdout).items, [
    { name: 'first', current: true },
    { name: 'second', current: false },
  ]);

  t.is((await term.run(['--context', 'second', 'user', 'whoami'], { env })).stdout.trim(), 'olga', '--context for one command');
  t.is((await term.run(['user', 'whoami'], { env: { YARD_CONTEXT: 'second' } })).stdout.trim(), 'olga');
  t.is((await term.run(['-m', other.url, 'user', 'whoami'], { env })).stdout.trim(), 'olga', '-m wins over the current context');
  t.is((await term.run(['user', 'whoami'], { env: { YARD_MASTER: other.url } })).stdout.trim(), 'olga', 'YARD_MASTER wins too');
  t.is((await term.run(['--context', 'second', '-m', m.url, 'user', 'whoami'], { env })).stdout.trim(), 'alice', '-m wins over --context');

  const missing = await term.run(['--context', 'nope', 'user', 'whoami'], { env });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /^Error: --context: there is no context 'nope' \(there are: first, second\)$/m);
  t.is((await term.run(['context', 'use', 'nope'], { env })).code, 1);
  t.is((await term.run(['context', 'add', 'bad name', m.url], { env })).code, 2);
  t.is((await term.run(['context', 'add', 'ftp', 'ftp://x'], { env })).code, 2);

  const removed = await term.run(['context', 'remove', 'first'], { env });
  t.regex(removed.stdout, /^Removed context first; there is no current context now\.$/m);
  const none = await term.run(['context', 'current'], { env });
  t.is(none.code, 1);
  t.regex(none.stderr, /there is no current context/);
  // No context: the default master (nothing listens on it here).
  t.regex((await term.run(['user', 'whoami'], { env })).stderr, /cannot reach the master at http:\/\/127\.0\.0\.1:8080/);
  const settings = JSON.parse(readFileSync(path.join(term.configDir, 'yard', 'settings.json'), 'utf8'));
  t.deepEqual(settings.masters, { [m.url]: { activeUser: 'alice' }, [other.url]: { activeUser: 'olga' } }, 'the same file and shape as before');
  t.false(readFileSync(path.join(term.configDir, 'yard', 'settings.json'), 'utf8').includes('yard_'), 'never a token');
});

// ---------------------------------------------------------------- version

test("yard version: its own and the master's version; a warning when they are too far apart; --json", async (t) => {
  const alice = terms.alice!;
  const result = await alice.run(['version']);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /^yard\s+0\.1\.0 \(API 1\) \(node \d+\.\d+\.\d+\)\nmaster\s+0\.1\.0 \(API 1\) at http:\/\/127\.0\.0\.1:\d+\n$/);
  t.is(result.stderr, '');
  const json = await alice.json<{ client: { version: string; apiVersion: number }; master: { version: string; url: string }; compatible: boolean }>(['version']);
  t.is(json.compatible, true);
  t.is(json.master.url, m.url);

  const newer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-trainyard-version': '9.1.0', 'x-trainyard-api-version': '9' });
    res.end(JSON.stringify({ version: '9.1.0', apiVersion: 9 }));
  });
  await new Promise<void>((resolve) => newer.listen(0, '127.0.0.1', resolve));
  t.teardown(() => newer.close());
  const url = `http://127.0.0.1:${(newer.address() as net.AddressInfo).port}`;
  const far = await alice.run(['-m', url, 'version']);
  t.is(far.code, 0, far.stderr);
  t.regex(far.stdout, /^master\s+9\.1\.0 \(API 9\) at /m);
  t.regex(far.stderr, /^Warning: this yard \(0\.1\.0 \(API 1\)\) and the master \(9\.1\.0 \(API 9\)\) are too far apart/m);
  t.is(far.stderr.match(/Warning/g)?.length, 1, 'said once');
  t.is((await alice.json<{ compatible: boolean }>(['-m', url, 'version'])).compatible, false);

  const down = await alice.run(['-m', 'http://127.0.0.1:9', 'version']);
  t.is(down.code, 1);
  t.regex(down.stdout, /^yard\s+0\.1\.0/m, "its own, all the same");
  t.regex(down.stderr, /cannot reach the master/);
});

// ---------------------------------------------------------------- det's habits

test("det's habits: a deactivated user's right password is told the account is not active (403); a wrong one gets the generic answer", async (t) => {
  await api(m.url, 'POST', '/users', { token: admin, body: { username: 'quinn', password: 'pw' } });
  t.is((await api(m.url, 'PATCH', '/users/quinn', { token: admin, body: { active: false } })).status, 200);
  const right = await api(m.url, 'POST', '/auth/login', { body: { username: 'quinn', password: 'pw' } });
  t.is(right.status, 403);
  t.is(right.body.error.code, 'USER_INACTIVE');
  const wrong = await api(m.url, 'POST', '/auth/login', { body: { username: 'quinn', password: 'nope' } });
  t.is(wrong.status, 401);
  t.deepEqual(wrong.body, { error: { code: 'INVALID_CREDENTIALS', message: 'invalid username or password' } });
  const term = new Terminal(m.url);
  const login = await term.run(['user', 'login', 'quinn', '--password-stdin'], { input: 'pw\n' });
  t.is(login.code, 1);
  t.regex(login.stderr, /^Error: the account 'quinn' is not active: an admin can activate it again/m);
  const badLogin = await term.run(['user', 'login', 'quinn', '--password-stdin'], { input: 'nope\n' });
  t.regex(badLogin.stderr, /^Error: invalid username or password$/m);
});

test("det's habits: -u NAME for the user already logged in is that login: no password asked, no second session", async (t) => {
  const term = new Terminal(m.url);
  t.is((await term.run(['user', 'login', 'bob', '--password-stdin'], { input: 'pw\n' })).code, 0);
  const before = (await api<Page<unknown>>(m.url, 'GET', '/sessions', { token: tokens.bob })).body.items.length;
  // No YARD_PASSWORD and no terminal: only the login's token can make this work.
  const same = await term.run(['-u', 'bob', 'user', 'whoami']);
  t.is(same.code, 0, same.stderr);
  t.is(same.stdout.trim(), 'bob');
  t.is((await term.run(['--user', 'BOB', 'task', 'list'])).code, 0);
  t.is((await api<Page<unknown>>(m.url, 'GET', '/sessions', { token: tokens.bob })).body.items.length, before, 'no new session');
  t.false(Object.keys(JSON.parse(readFileSync(term.tokenFile, 'utf8'))).some((k) => k.startsWith('temporary:')), 'no temporary token');
  // Someone else: still a password.
  const other = await term.run(['-u', 'carol', 'user', 'whoami']);
  t.is(other.code, 1);
  t.regex(other.stderr, /Password for carol: no terminal to ask on/);
});

test("det's habits: a session that has ended asks for the password again on a terminal, the name kept; a script still fails", async (t) => {
  await api(m.url, 'POST', '/users', { token: admin, body: { username: 'erin', password: 'pw' } });
  const term = new Terminal(m.url);
  t.is((await term.run(['user', 'login', 'erin', '--password-stdin'], { input: 'pw\n' })).code, 0);
  const endAll = async () => {
    const token = JSON.parse(readFileSync(term.tokenFile, 'utf8'))[`login:erin@${m.url}`] as string;
    t.is((await api(m.url, 'POST', '/auth/logout', { token, body: { all: true } })).status, 204);
  };
  await endAll();
  const asked = await inTerminal(term, ['user', 'whoami'], { prompt: /Password for erin:/, answer: 'pw' });
  t.true(asked.answered, asked.output);
  t.regex(asked.output, /session as 'erin' has ended \(.*\): log in again\./);
  t.regex(asked.output, /(^|\x1b\[\?25h)erin\r?$/m);
  t.is(asked.code, 0, asked.output);
  t.is((await term.run(['user', 'whoami'])).stdout.trim(), 'erin', 'the new login is kept');

  await endAll();
  const script = await term.run(['user', 'whoami']);
  t.is(script.code, 1);
  t.regex(script.stderr, /session as 'erin' has ended .*: log in again with `yard user login erin`/);
  const wrong = await inTerminal(term, ['user', 'whoami'], { prompt: /Password for erin:/, answer: 'nope' });
  t.is(wrong.code, 1);
  t.regex(wrong.output, /invalid username or password/);
});

// ---------------------------------------------------------------- help

test('every command has --help with an example; the new ones show theirs', async (t) => {
  for (const [id, command] of Object.entries(COMMANDS)) {
    t.true((command.examples?.length ?? 0) > 0, `${id} has an example`);
  }
  const commands = [
    ['autocomplete'], ['version'], ['context', 'add'], ['context', 'use'], ['context', 'list'], ['context', 'remove'], ['context', 'current'],
    ['task', 'logs'], ['task', 'list'], ['user', 'list'], ['experiment', 'list'],
  ];
  await eachHelp(commands, (name, help) => {
    t.is(help.code, 0, name);
    t.regex(help.stdout, /EXAMPLES\n\s+\$ yard /, name);
  });
});
