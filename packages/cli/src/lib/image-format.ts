import type { ImageList, ImageOperation, ImageOperationAgent, ImageView } from '@trainyard/shared';
import { formatDecimalSize, shortImageId } from '@trainyard/shared/constants';
import { escapeText } from './escape.js';
import type { View } from './output.js';
import { renderTable, type Column } from './table.js';

/** Bytes as `docker images` says them (`1.24MB`); nothing for an unknown size. */
export function formatSize(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '' : formatDecimalSize(bytes);
}

/** How long ago, as `docker images` says it: `45 seconds ago`, `3 days ago`, `2 years ago`. */
export function formatAgo(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const steps: Array<[number, string]> = [
    [365 * 86400, 'year'],
    [30 * 86400, 'month'],
    [7 * 86400, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second'],
  ];
  for (const [size, name] of steps) {
    const n = Math.floor(seconds / size);
    if (n >= 1) return `${n} ${name}${n === 1 ? '' : 's'} ago`;
  }
  return 'just now';
}

const agentsOf = (image: ImageView) => image.agents.map((a) => a.agent).join(',');

/** `yard image list`'s columns; `fullId`: the whole id (sha256:...), as -o wide shows it. */
function imageColumns(fullId: boolean): Column<ImageView>[] {
  return [
    { header: 'REPOSITORY', field: 'repository', get: (i) => i.repository },
    { header: 'TAG', field: 'tag', get: (i) => i.tag ?? '<none>', raw: (i) => i.tag },
    { header: 'IMAGE ID', field: 'id', get: (i) => (fullId ? i.id : shortImageId(i.id)), raw: (i) => i.id },
    { header: 'SIZE', field: 'size', get: (i) => formatSize(i.size), raw: (i) => i.size },
    { header: 'CREATED', field: 'created', get: (i) => formatAgo(i.created), raw: (i) => i.created },
    { header: 'AGENTS', field: 'agents', get: agentsOf },
    { header: 'POOLS', field: 'pools', get: (i) => i.pools.join(',') },
    // Whether a task of the caller naming it would pass their policy's images.allow.
    { header: 'ALLOWED', field: 'allowed', get: (i) => (i.reference === null ? '' : i.allowed ? 'yes' : 'no'), raw: (i) => i.allowed },
    { header: 'LOADED BY', field: 'loadedBy', get: (i) => i.loadedBy, wide: true },
    { header: 'DIGESTS', field: 'digests', get: (i) => i.digests.join(','), wide: true },
  ];
}

/** One line per tag (`-o name`: the reference, or the id of an untagged image, as docker names it). */
export const imagesView: View<ImageView> = { name: (i) => i.reference ?? i.id, columns: imageColumns(false) };

/** The table; `wide`: with who loaded each and its digests, and the whole id (docker's --no-trunc). */
export const imagesTable = (images: ImageView[], wide: boolean): string =>
  renderTable(images, imageColumns(wide).filter((c) => wide || !c.wide));

/** What the list could not show: agents with no images (the process executor), on stderr. */
export function imagelessNotes(list: ImageList): string[] {
  return list.agentsWithoutImages.map((a) => `note: ${escapeText(a.reason)}`);
}

/** One agent's part of an operation in a few words: its state, and for a pull the layers and bytes as Docker reports them. */
export function describePart(part: ImageOperationAgent, kind: ImageOperation['kind']): string {
  if (part.state === 'waiting') return 'waiting for the agent to take it up';
  if (part.state === 'done' && kind === 'pull' && part.layers.length > 0) return `done: ${part.message ?? 'pulled'} (${layerSummary(part)})`;
  if (part.state === 'skipped' || part.state === 'failed' || part.state === 'done') return `${part.state}: ${part.message ?? part.status ?? ''}`.replace(/: $/, '');
  if (kind === 'load') return part.bytes === null ? 'receiving the tarball' : `received ${formatSize(part.bytes)}`;
  if (kind === 'remove') return 'removing';
  const layers = part.layers;
  if (layers.length === 0) return part.status ?? 'pulling';
  const finished = layers.filter((l) => /complete|already exists/i.test(l.status)).length;
  const sized = layers.filter((l) => l.total !== null && l.total > 0 && /download/i.test(l.status));
  const bytes = sized.length > 0 ? `, ${formatSize(sized.reduce((s, l) => s + (l.current ?? 0), 0))} of ${formatSize(sized.reduce((s, l) => s + (l.total ?? 0), 0))} downloading` : '';
  const extracting = layers.some((l) => /extract/i.test(l.status)) ? ', extracting' : '';
  return `${finished}/${layers.length} layers done${bytes}${extracting}`;
}

/** A pull's layers at its end, as Docker reported them: `2 layers pulled (3.4MB), 1 already here`. */
function layerSummary(part: ImageOperationAgent): string {
  const here = part.layers.filter((l) => /already exists/i.test(l.status)).length;
  const pulled = part.layers.length - here;
  const bytes = part.layers.filter((l) => !/already exists/i.test(l.status)).reduce((sum, l) => sum + (l.total ?? 0), 0);
  const plural = (n: number) => `${n} layer${n === 1 ? '' : 's'}`;
  return [pulled > 0 ? `${plural(pulled)} pulled${bytes > 0 ? ` (${formatSize(bytes)})` : ''}` : '', here > 0 ? `${plural(here)} already here` : ''].filter(Boolean).join(', ');
}

/** The end of an operation, one line per agent: what `pull`, `load` and `rm` print on stdout (-o name: the agents). */
export const operationView: View<ImageOperationAgent> = {
  name: (a) => a.agent,
  columns: [
    { header: 'AGENT', field: 'agent', get: (a) => a.agent },
    { header: 'STATE', field: 'state', get: (a) => a.state },
    { header: 'IMAGE ID', field: 'imageId', get: (a) => (a.imageId ? shortImageId(a.imageId) : ''), raw: (a) => a.imageId },
    { header: 'MESSAGE', field: 'message', get: (a) => a.message ?? a.status ?? '' },
  ],
};
