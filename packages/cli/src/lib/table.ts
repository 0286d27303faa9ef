import { escapeText } from './escape.js';

export interface Column<T> {
  header: string;
  get: (row: T) => string | number | boolean | null | undefined;
}

/** An aligned plain-text table, one header line, `-` for empty cells, control characters escaped. */
export function renderTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((row) =>
    columns.map((c) => {
      const value = c.get(row);
      return value === null || value === undefined || value === '' ? '-' : escapeText(String(value));
    }),
  );
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}
