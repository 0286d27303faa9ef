#!/usr/bin/env node
import { execute } from '@oclif/core';
import { hoistGlobalFlags, splitAtDoubleDash } from '../dist/argv.js';

// `yard -u admin user list` reads like sudo; oclif wants flags after the command, so move them there.
// Everything after `--` is a task's command: kept away from oclif's flag parsing.
await execute({ args: splitAtDoubleDash(hoistGlobalFlags(process.argv.slice(2))), dir: import.meta.url });
