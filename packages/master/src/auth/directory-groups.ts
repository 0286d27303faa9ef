/**
 * Directory groups become Trainyard groups through `auth.ldap.groups.map` (directory group name ->
 * Trainyard group path). The groups themselves belong to the groups domain; the master hands the
 * result of each LDAP login to this hook, which that domain implements.
 */
export interface DirectoryGroupSync {
  /**
   * Makes the user's memberships among `managed` (every path the map names) exactly `paths`
   * (those of the directory groups they are in now); memberships outside `managed` stay as they are.
   */
  sync(user: { id: number; username: string }, membership: { paths: string[]; managed: string[] }): Promise<void>;
}

/** Which mapped Trainyard groups a person's directory groups give; names match without regard to case, as in LDAP. */
export function mapDirectoryGroups(groups: string[], map: Record<string, string>): { paths: string[]; managed: string[] } {
  const byName = new Map(Object.entries(map).map(([name, path]) => [name.toLowerCase(), path]));
  const paths = groups.flatMap((name) => byName.get(name.toLowerCase()) ?? []);
  return { paths: [...new Set(paths)].sort(), managed: [...new Set(byName.values())].sort() };
}
