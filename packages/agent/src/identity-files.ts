import type { UnixIdentity } from '@trainyard/shared';

/**
 * passwd and group files that name the task's identity, so that `whoami` and `id -un` answer
 * with a name (the arbitrary-UID problem). Entries that clash by name or id are replaced.
 */
export function withIdentity(passwd: string, group: string, id: UnixIdentity, home: string): { passwd: string; group: string } {
  const keep = (text: string, name: string, numericId: number) =>
    text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .filter((line) => {
        const fields = line.split(':');
        return fields[0] !== name && fields[2] !== String(numericId);
      });
  const passwdLines = keep(passwd, id.user, id.uid);
  passwdLines.push(`${id.user}:x:${id.uid}:${id.gid}:${id.user}:${home}:/bin/sh`);
  const groupLines = keep(group, id.group, id.gid);
  groupLines.push(`${id.group}:x:${id.gid}:${id.user}`);
  return { passwd: `${passwdLines.join('\n')}\n`, group: `${groupLines.join('\n')}\n` };
}
