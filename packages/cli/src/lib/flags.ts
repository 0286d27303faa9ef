import { Errors, Flags } from '@oclif/core';
import { AUTH_BACKENDS, MAX_UNIX_ID } from '@trainyard/shared/constants';

/** A uid/gid: digits only (no "1e3", "-1" or "0x10"), 0..4294967294. */
export const unixIdFlag = Flags.custom<number>({
  parse: async (input, _ctx, opts) => {
    const value = /^\d{1,10}$/.test(input) ? Number(input) : Number.NaN;
    if (!Number.isInteger(value) || value > MAX_UNIX_ID) {
      throw new Errors.CLIError(`--${opts.name} must be a whole number between 0 and ${MAX_UNIX_ID}, got '${input}'`, {
        exit: 2,
      });
    }
    return value;
  },
});

export const passwordStdinFlag = Flags.boolean({
  summary: 'Read the password from the first line of standard input.',
  default: false,
});

/** Where a user's password is checked. */
export const authFlag = Flags.option({
  options: AUTH_BACKENDS,
  summary: 'Where the password is checked: internal (Trainyard), ldap, pam, or file (htpasswd).',
});
