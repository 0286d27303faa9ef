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

/** A whole number in `min..max` (`-5` too), refused with the flag's name and its range: oclif's own message names neither. */
export const rangedIntegerFlag = (min: number, max: number) =>
  Flags.custom<number>({
    parse: async (input, _ctx, opts) => {
      const value = /^-?\d{1,9}$/.test(input) ? Number(input) : Number.NaN;
      if (!Number.isInteger(value) || value < min || value > max) {
        throw new Errors.CLIError(`--${opts.name} must be a whole number from ${min} to ${max}, got '${input}'`, { exit: 2 });
      }
      return value;
    },
  });

export const passwordStdinFlag = Flags.boolean({
  summary: 'Read the password from the first line of standard input.',
  default: false,
});

/** `--user U` or `--group PATH`, and `--scope PATH`: whom a role goes to, and for which group's tasks. */
export const assignmentFlags = {
  user: Flags.string({ summary: 'Give it to this user.', exactlyOne: ['user', 'group'] }),
  group: Flags.string({ summary: 'Give it to this group: its direct members hold it (subgroups do not).', exactlyOne: ['user', 'group'] }),
  scope: Flags.string({
    summary: "Hold it only for this group: operate_others and delete_tasks for tasks of its direct members, see_status for the usage charged to it.",
  }),
};

export const capabilitiesFlag = Flags.string({
  char: 'c',
  summary: 'Capabilities, comma-separated or repeated: see_status, change_config, operate_others, delete_tasks, access_api, customize_resources, use_any_image.',
  multiple: true,
  delimiter: ',',
});

/** Where a user's password is checked. */
export const authFlag = Flags.option({
  options: AUTH_BACKENDS,
  summary: 'Where the password is checked: internal (Trainyard), ldap, pam, or file (htpasswd).',
});
