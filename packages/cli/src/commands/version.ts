import { formatVersion, versionsConflict, type MasterVersion } from '@trainyard/shared/constants';
import { YardCommand } from '../base-command.js';

export interface VersionReport {
  client: MasterVersion & { node: string };
  master: (MasterVersion & { url: string }) | null;
  /** False when they are far enough apart to misread each other (another API version, or another major release). */
  compatible: boolean | null;
  /** Why the master's could not be had (with --json; otherwise it is the command's error). */
  error?: { code: string; message: string };
}

export default class Version extends YardCommand<typeof Version> {
  static override summary = "Print this yard's version and the master's, and warn when they are too far apart to understand each other.";
  static override description =
    'The master says its version at GET /api/v1/version (no login needed). They are too far apart when their API versions ' +
    'differ, or their major releases (the minor, for 0.x releases). yard --version prints only its own.';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json', '<%= config.bin %> -m https://yard.example.org version'];

  async run(): Promise<VersionReport> {
    const client = { ...this.ownVersion, node: process.versions.node };
    this.log(`yard     ${formatVersion(client)} (node ${client.node})`);
    // The warning is said here, once, in these words.
    this.skewSaid = true;
    let master: MasterVersion;
    try {
      master = await this.anonymousClient().call('version');
    } catch (error) {
      const known = this.explain(error as Error);
      // yard's own version is said all the same; the master's failure is the error (exit 1).
      if (!known || !this.jsonEnabled()) throw error;
      process.exitCode = 1;
      return { client, master: null, compatible: null, error: known };
    }
    const compatible = !versionsConflict(client, master);
    this.log(`master   ${formatVersion(master)} at ${this.master}`);
    if (!compatible) {
      process.stderr.write(
        `Warning: this yard (${formatVersion(client)}) and the master (${formatVersion(master)}) are too far apart: some answers may not be understood; use a yard of the master's version\n`,
      );
    }
    return { client, master: { ...master, url: this.master }, compatible };
  }
}
