import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import {
  AndFilter,
  Client,
  EqualityFilter,
  FilterParser,
  InvalidCredentialsError,
  OrFilter,
  ResultCodeError,
  SizeLimitExceededError,
  type Entry,
  type Filter,
} from 'ldapts';
import type { Logger } from 'pino';
import { MAX_UNIX_ID, UNIX_NAME_PATTERN, type UnixIdentity } from '@trainyard/shared';
import type { LdapConfig } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import { ok, unavailable, WRONG, type AuthBackend, type DirectoryAttributes, type Verdict } from './auth-backend.js';

/** The service account's password, read once at start from where master.yaml says; never logged. */
export function readBindPassword(config: LdapConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (config.bind_password_env) {
    const value = env[config.bind_password_env];
    if (value === undefined) throw new ConfigError(`auth.ldap.bind_password_env: the environment variable ${config.bind_password_env} is not set`);
    return value;
  }
  if (config.bind_password_file) {
    try {
      return readFileSync(config.bind_password_file, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new ConfigError(`auth.ldap.bind_password_file: cannot read ${config.bind_password_file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return undefined;
}

function readCaFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(`auth.ldap.ca_file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * LDAP: find the person with the service account (or anonymously), read their uid/gid and groups,
 * then bind as them with the password. The login name goes into the search as an equality
 * filter's value, encoded by ldapts, never into filter text. A fresh connection per login.
 */
export function createLdapBackend(config: LdapConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): AuthBackend {
  const bindPassword = readBindPassword(config, env);
  const tlsOptions: ConnectionOptions | undefined = config.ca_file ? { ca: readCaFile(config.ca_file) } : undefined;
  const userFilter = FilterParser.parseString(config.user_filter);
  const groupFilter = config.groups ? FilterParser.parseString(config.groups.filter) : undefined;
  const mapping = config.attributes;
  const plain = config.urls.filter((url) => /^ldap:/i.test(url) && !/^ldap:\/\/(127\.|localhost|\[::1\])/i.test(url));
  if (plain.length > 0 && !config.starttls) {
    logger.warn({ urls: plain }, 'LDAP without TLS: passwords travel unencrypted; use ldaps:// or starttls: true');
  }

  /** Runs `work` on the first server that answers; LDAP result codes are answers, anything else is an outage. */
  async function withDirectory<T>(work: (client: Client) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (const url of config.urls) {
      // tlsOptions only for ldaps://: ldapts takes a client with tlsOptions for ldaps:// even on an ldap:// URL.
      const ldaps = url.toLowerCase().startsWith('ldaps:');
      const client = new Client({ url, timeout: config.timeout, connectTimeout: config.connect_timeout, ...(ldaps && tlsOptions ? { tlsOptions } : {}) });
      try {
        // A fresh options object each time (ldapts adds the socket to it), naming the host the certificate must match.
        if (config.starttls) await client.startTLS({ ...tlsOptions, host: new URL(url).hostname });
        return await work(client);
      } catch (error) {
        if (error instanceof ResultCodeError) throw error;
        lastError = error;
        logger.warn({ url, err: error }, 'LDAP server did not answer');
      } finally {
        await client.unbind().catch(() => undefined);
      }
    }
    throw lastError;
  }

  async function findPerson(client: Client, username: string): Promise<Entry | undefined> {
    if (config.bind_dn) await client.bind(config.bind_dn, bindPassword);
    try {
      const { searchEntries } = await client.search(config.search_base, {
        scope: 'sub',
        filter: new AndFilter({ filters: [userFilter, new EqualityFilter({ attribute: config.login_attribute, value: username })] }),
        attributes: mapping ? [mapping.uid_number, mapping.gid_number, mapping.user] : ['1.1'],
        sizeLimit: 2,
      });
      return searchEntries.length === 1 ? searchEntries[0] : undefined;
    } catch (error) {
      // A name that matches two people: nobody to log in as.
      if (error instanceof SizeLimitExceededError) {
        logger.warn({ username }, 'LDAP: the login name matches more than one entry; refused');
        return undefined;
      }
      throw error;
    }
  }

  async function groupsOf(client: Client, person: Entry, username: string, gid: number | undefined): Promise<Array<{ name: string; gid: number | undefined }>> {
    const groups = config.groups;
    if (!groups || !groupFilter) return [];
    // memberUid holds the Unix name, which the login name need not be (login_attribute: mail).
    const name = (mapping && firstValue(person, mapping.user)) || username;
    const member = new EqualityFilter({ attribute: groups.member_attribute, value: groups.member_value === 'dn' ? person.dn : name });
    // The primary group (by gid) is a membership too, and names the link's group.
    const primary = gid === undefined ? [] : [new EqualityFilter({ attribute: groups.gid_attribute, value: String(gid) })];
    const { searchEntries } = await client.search(groups.search_base, {
      scope: 'sub',
      filter: new AndFilter({ filters: [groupFilter, new OrFilter({ filters: [member, ...primary] })] }),
      attributes: [groups.name_attribute, groups.gid_attribute],
      sizeLimit: 1000,
    });
    return searchEntries.flatMap((entry) => {
      const name = firstValue(entry, groups.name_attribute);
      return name ? [{ name, gid: unixId(firstValue(entry, groups.gid_attribute)) }] : [];
    });
  }

  async function check(client: Client, username: string, password: string): Promise<Verdict> {
    const person = await findPerson(client, username);
    if (!person) return WRONG;
    const uid = mapping ? unixId(firstValue(person, mapping.uid_number)) : undefined;
    const gid = mapping ? unixId(firstValue(person, mapping.gid_number)) : undefined;
    const groups = await groupsOf(client, person, username, gid);
    try {
      await client.bind(person.dn, password);
    } catch (error) {
      if (error instanceof InvalidCredentialsError) return WRONG;
      throw error;
    }
    const attributes: DirectoryAttributes = {};
    const user = mapping ? firstValue(person, mapping.user) : undefined;
    if (uid !== undefined && gid !== undefined && user && UNIX_NAME_PATTERN.test(user)) {
      // The group's own name when the directory has it; else the user-private-group convention.
      const group = groups.find((g) => g.gid === gid)?.name ?? user;
      attributes.unix = { uid, user, gid, group: UNIX_NAME_PATTERN.test(group) ? group : user } satisfies UnixIdentity;
    }
    if (config.groups) attributes.groups = [...new Set(groups.map((g) => g.name))];
    return ok(attributes);
  }

  return {
    name: 'ldap',
    passwordHome: 'the LDAP directory',
    async verify({ username, password }) {
      // An empty password is an unauthenticated bind, which many servers accept: it proves nothing.
      if (password === '') return WRONG;
      try {
        return await withDirectory((client) => check(client, username, password));
      } catch (error) {
        if (config.bind_dn && error instanceof InvalidCredentialsError) {
          return unavailable("the LDAP directory refused the master's service account: tell an admin (auth.ldap.bind_dn)", error);
        }
        if (error instanceof ResultCodeError) return unavailable('the LDAP directory answered with an error: tell an admin', error);
        if (/CERT|SIGNATURE|SELF_SIGNED|ALTNAME/.test(String((error as NodeJS.ErrnoException).code))) {
          return unavailable("the LDAP directory's certificate is not trusted: tell an admin (auth.ldap.ca_file)", error);
        }
        return unavailable('the LDAP directory does not answer: try again later, or tell an admin', error);
      }
    },
  };
}

function firstValue(entry: Entry, attribute: string): string | undefined {
  // ldapts keys attributes as the server spelled them; match without regard to case, as LDAP does.
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const value = key === undefined ? undefined : entry[key];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

function unixId(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return undefined;
  const id = Number(value);
  return id <= MAX_UNIX_ID ? id : undefined;
}
