import { paint, type Style } from './colour.js';
import { escapeText } from './escape.js';

export type Cell = string | number | boolean | null | undefined;

export interface Column<T> {
  header: string;
  get: (row: T) => Cell;
  /** The API field the column shows (`state`, `runAs.uid`): what `--fields` names it by. */
  field?: string;
  /** The value for machines (csv) when the table shows a friendlier one: ISO times, not local ones. */
  raw?: (row: T) => Cell;
  /** Shown by `-o wide` (and csv) only. */
  wide?: boolean;
  /** Shown only when the rows call for it (a POOL column once some row is outside `default`). */
  when?: (rows: T[]) => boolean;
  /** Its colour on a terminal (a task's state). */
  style?: (row: T) => Style | undefined;
  /** What an empty cell shows (default `-`). */
  empty?: string;
}

const isEmpty = (value: Cell) => value === null || value === undefined || value === '';

/**
 * An aligned plain-text table, one header line, `-` for empty cells, control characters escaped;
 * with `colour`, cells in their column's style (padding counted without the colour codes).
 */
export function renderTable<T>(rows: T[], columns: Column<T>[], colour = false): string {
  const cells = rows.map((row) => columns.map((c) => (isEmpty(c.get(row)) ? (c.empty ?? '-') : escapeText(String(c.get(row))))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[], row?: T) =>
    values
      .map((v, i) => {
        const padded = i === values.length - 1 ? v : v.padEnd(widths[i]!);
        const style = row === undefined ? undefined : columns[i]!.style?.(row);
        // Only the text is coloured, not the padding after it.
        return style ? paint(v, style, colour) + padded.slice(v.length) : padded;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map((r, i) => line(r, rows[i]))].join('\n');
}

/**
 * CSV (RFC 4180): a header row, then one row each; a cell with a comma, quote, line break or
 * leading or trailing space is quoted, its quotes doubled. Control characters other than those
 * are escaped as in tables (nothing another user typed reaches the terminal raw); empty is empty.
 */
export function renderCsv<T>(rows: T[], columns: Column<T>[]): string {
  const cell = (value: Cell) => {
    if (isEmpty(value)) return '';
    const text = escapeText(String(value));
    return /[",\n\r]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const line = (values: Cell[]) => values.map(cell).join(',');
  return [line(columns.map((c) => c.header)), ...rows.map((row) => line(columns.map((c) => (c.raw ?? c.get)(row))))].join('\n');
}
