import type { Hook } from '@oclif/core';
import { errorLine } from '../lib/colour.js';
import { escapeText } from '../lib/escape.js';
import { EXIT } from '../lib/exit-status.js';
import { describeUnknownCommand } from '../lib/unknown-command.js';

/**
 * oclif's `command_not_found`: a mistyped command or topic is a usage error (exit 2) that says
 * what was probably meant, in yard's words (`experiment list`, never oclif's `experiment:list`).
 */
export const notFound: Hook.CommandNotFound = async function (options) {
  // oclif took every word before the first flag (arguments included: `task kil 12`) for the command's name.
  const { message, hint } = describeUnknownCommand(options.id.split(':'), options.config);
  process.stderr.write(errorLine(escapeText(message), hint));
  this.exit(EXIT.USAGE);
};
