import { execute, type Interfaces } from '@oclif/core';
import { expandShortForms, hoistGlobalFlags, splitAtDoubleDash } from './argv.js';
import { COMMANDS } from './commands.js';

/**
 * `yard ARGS`: the command line made into what oclif parses, then oclif. `dir` is where the
 * package.json is (the compiled sources); the single-file bundle gives its own root and package.json.
 */
export function main(where: { dir: string } | { loadOptions: Interfaces.LoadOptions }): Promise<unknown> {
  // `yard -u admin user list` reads like sudo; oclif wants flags after the command, so move them there.
  // Short forms (`yard e ls`) become the long ones. Everything after `--` is a task's command: kept
  // away from oclif's flag parsing.
  const args = splitAtDoubleDash(expandShortForms(hoistGlobalFlags(process.argv.slice(2)), Object.keys(COMMANDS)));
  return execute({ args, ...where });
}
