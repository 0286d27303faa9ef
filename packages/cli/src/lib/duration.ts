const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `500ms`, `90s`, `10m`, `2h`, `1d`, or seconds as a plain number, in milliseconds; undefined when it is none of these. */
export function parseDurationMs(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNITS[(match[2] ?? 's').toLowerCase() as keyof typeof UNITS]);
}
