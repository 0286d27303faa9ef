#!/usr/bin/env node
import { execute } from '@oclif/core';
import { hoistGlobalFlags } from '../dist/argv.js';

// `yard -u admin user list` reads like sudo; oclif wants flags after the command, so move them there.
await execute({ args: hoistGlobalFlags(process.argv.slice(2)), dir: import.meta.url });
