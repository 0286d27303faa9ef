import type { UnixIdentity } from '@trainyard/shared';

/**
 * passwd and group files that name the task's identity, so that `whoami`, `id -un` and `id -Gn`
 * answer with names (the arbitrary-UID problem): the user, their primary group and each
 * supplementary group (with the user as a member). Entries that clash by name or id are replaced.
 */
export function withIdentity(
  passwd: string,
  group: string,
  id: UnixIdentity & { supplementaryGroups?: ReadonlyArray<{ gid: number; name: string }> },
  home: string,
): { passwd: string; group: string } {
  const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');
  const clashes = (line: string, name: string, numericId: number) => {
    const fields = line.split(':');
    return fields[0] === name || fields[2] === String(numericId);
  };
  const passwdLines = lines(passwd).filter((line) => !clashes(line, id.user, id.uid));
  passwdLines.push(`${id.user}:x:${id.uid}:${id.gid}:${id.user}:${home}:/bin/sh`);
  const groups = [{ gid: id.gid, name: id.group }, ...(id.supplementaryGroups ?? []).filter((g) => g.gid !== id.gid)];
  const groupLines = lines(group).filter((line) => !groups.some((g) => clashes(line, g.name, g.gid)));
  for (const g of groups) groupLines.push(`${g.name}:x:${g.gid}:${id.user}`);
  return { passwd: `${passwdLines.join('\n')}\n`, group: `${groupLines.join('\n')}\n` };
}
