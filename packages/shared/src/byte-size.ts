/**
 * Sizes, one reading everywhere (task configs and master.yaml): `K`, `M`, `G`, `T` are decimal
 * (10^3...), `Ki`, `Mi`, `Gi`, `Ti` binary (2^10...), each optionally followed by `B`, in any case;
 * a bare number is bytes. "1m" and "1MB" are 1,000,000 bytes; "1Mi" and "1MiB" are 1,048,576.
 */
const SIZE = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(i)?)?b?$/i;
const POWERS: Record<string, number> = { k: 1, m: 2, g: 3, t: 4 };

/** Bytes (rounded down), or undefined when `value` is not a size. */
export function parseByteSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  const match = SIZE.exec(value.trim());
  if (!match) return undefined;
  const [, number, unit, binary] = match;
  const power = unit ? POWERS[unit.toLowerCase()]! : 0;
  const bytes = Number(number) * (binary ? 1024 : 1000) ** power;
  return Number.isFinite(bytes) ? Math.floor(bytes) : undefined;
}

/** `bytes` in the largest of `units` (each `base` times the one before) that keeps it at 1 or more. */
function scaled(bytes: number, base: number, units: readonly string[]): { value: number; unit: string; index: number } {
  let value = bytes;
  let index = 0;
  while (value >= base && index < units.length - 1) {
    value /= base;
    index++;
  }
  return { value, unit: units[index]!, index };
}

/** Bytes for people, in 1024-based units: `4Gi`, `1.5Gi`, `512Mi`, `100` (bytes). */
export function formatByteSize(bytes: number): string {
  const { value, unit } = scaled(bytes, 1024, ['', 'Ki', 'Mi', 'Gi', 'Ti']);
  return `${Number(value.toFixed(1))}${unit}`;
}

/**
 * Bytes as `docker images` says them: decimal units, three significant digits (`1.24MB`, `512kB`,
 * `999B`); `separator` goes between the number and its unit (the web UI's `1.24 MB`).
 */
export function formatDecimalSize(bytes: number, separator = ''): string {
  const { value, unit, index } = scaled(bytes, 1000, ['B', 'kB', 'MB', 'GB', 'TB']);
  return `${index === 0 ? value : value.toPrecision(3).replace(/\.?0+$/, '')}${separator}${unit}`;
}
