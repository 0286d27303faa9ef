import { Errors, Flags } from '@oclif/core';
import { escapeText } from './escape.js';
import { renderCsv, renderTable, type Cell, type Column } from './table.js';

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml', 'csv', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o` and `--fields`: on every command that lists or shows something. */
export const outputFlags = {
  output: Flags.option({
    char: 'o',
    options: OUTPUT_FORMATS,
    summary: 'Print as table (the default), wide (more columns), json, yaml, csv (with a header row) or name (one per line).',
    description: '`-o json` prints what --json prints (the API\'s answer); --fields picks from it.',
    helpGroup: 'OUTPUT',
    exclusive: ['json'],
  })(),
  fields: Flags.string({
    summary: 'Only these fields, comma-separated, as -o json names them (id,state,owner; runAs.uid for nested ones).',
    description: 'With -o json or yaml: each item keeps only these. With table, wide or csv: these columns, in this order.',
    helpGroup: 'OUTPUT',
    // --json is the API's answer as it is: `-o json --fields` is the one that picks.
    exclusive: ['json'],
  }),
};

/** How a command's rows look: their columns, and what names one (`-o name`). */
export interface View<T> {
  columns: Column<T>[];
  name: (row: T) => string | number;
}

/** What a command prints: the API's answer (`data`), its rows and how they look, and optionally its own text for tables. */
export interface Printable<T> {
  data: unknown;
  items: T[];
  view: View<T>;
  /** The table form when it is more than the rows (`describe`, a list with a heading); `-o wide` too, unless `wideText`. */
  text?: () => string;
  /** The wide form, when it differs from `text`. */
  wideText?: () => string;
  /** The CSV, when it is a file of its own (`yard usage`'s is the web UI's download); not with --fields. */
  csv?: () => string;
}

export interface OutputOptions {
  format: OutputFormat;
  fields: string[] | undefined;
  /** Colours in tables (a terminal, and colour not turned off). */
  colour: boolean;
}

/** `--fields id, state ,owner` → ['id', 'state', 'owner']; undefined when not given. */
export function parseFields(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const fields = value.split(',').map((f) => f.trim()).filter(Boolean);
  if (fields.length === 0) throw new Errors.CLIError('--fields: name at least one field, such as id,state,owner', { exit: 2 });
  const bad = fields.find((f) => !/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/.test(f));
  if (bad !== undefined) throw new Errors.CLIError(`--fields: '${bad}' is not a field name (letters, digits, _ and - with dots between)`, { exit: 2 });
  return fields;
}

/** The text one command prints for `-o FORMAT` (and --fields): every list and show goes through here. */
export async function renderOutput<T>(what: Printable<T>, options: OutputOptions): Promise<string> {
  const { format, fields } = options;
  // Fields name what -o json shows: the answer's items (or the answer); for rows, the rows.
  if (fields) checkFields(fields, format === 'json' || format === 'yaml' ? sampleOf(what.data) : what.items[0], what.view);
  switch (format) {
    case 'json':
      return JSON.stringify(fields ? selectFields(what.data, fields) : what.data, null, 2);
    case 'yaml': {
      // Loaded only here: most commands print no YAML.
      const { stringifyYaml } = await import('@trainyard/shared/yaml');
      return stringifyYaml(fields ? selectFields(what.data, fields) : what.data).trimEnd();
    }
    case 'csv':
      return !fields && what.csv ? what.csv().trimEnd() : renderCsv(what.items, columnsFor(what, fields, true));
    case 'name':
      return what.items.map((row) => escapeText(String(what.view.name(row)))).join('\n');
    case 'table':
    case 'wide': {
      const wide = format === 'wide';
      if (!fields && what.text) return (wide && what.wideText ? what.wideText : what.text)();
      return renderTable(what.items, columnsFor(what, fields, wide), options.colour);
    }
  }
}

/** The columns to print: the view's (wide ones too when `wide`), or one per field, in the order given. */
function columnsFor<T>(what: Printable<T>, fields: string[] | undefined, wide: boolean): Column<T>[] {
  const { columns } = what.view;
  if (!fields) return columns.filter((c) => (wide || !c.wide) && (!c.when || c.when(what.items)));
  return fields.map((field) => {
    const own = columns.find((c) => c.field === field);
    if (own) return own;
    return { header: field.toUpperCase(), field, get: (row: T) => cellOf(valueAt(row, field)) };
  });
}

/** A field that no row has is a typo: said, with the fields there are. */
function checkFields<T>(fields: string[], sample: unknown, view: View<T>): void {
  if (!isObject(sample)) return;
  const known = new Set([...Object.keys(sample), ...view.columns.flatMap((c) => (c.field ? [c.field.split('.')[0]!] : []))]);
  const unknown = fields.find((f) => !known.has(f.split('.')[0]!));
  if (unknown !== undefined) {
    throw new Errors.CLIError(`--fields: there is no field '${unknown}' here; there are: ${[...known].join(', ')}`, { exit: 2 });
  }
}

/** One of what --fields picks from in an answer: its first item, or the answer itself. */
function sampleOf(data: unknown): unknown {
  if (Array.isArray(data)) return data[0];
  if (isObject(data) && Array.isArray(data.items)) return data.items[0];
  return data;
}

/** The answer with each item (or the object itself) cut down to `fields`, nested as in the API's answer. */
export function selectFields(data: unknown, fields: string[]): unknown {
  if (Array.isArray(data)) return data.map((item) => pick(item, fields));
  if (isObject(data) && Array.isArray(data.items)) return { ...data, items: data.items.map((item) => pick(item, fields)) };
  return pick(data, fields);
}

function pick(value: unknown, fields: string[]): unknown {
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const parts = field.split('.');
    const found = valueAt(value, field);
    if (found === undefined) continue;
    let at = out;
    for (const part of parts.slice(0, -1)) at = (at[part] = isObject(at[part]) ? at[part] : {}) as Record<string, unknown>;
    at[parts.at(-1)!] = found;
  }
  return out;
}

function valueAt(value: unknown, field: string): unknown {
  let at: unknown = value;
  for (const part of field.split('.')) {
    if (!isObject(at)) return undefined;
    at = at[part];
  }
  return at;
}

/** A value in a cell: lists joined with commas, objects as JSON. */
function cellOf(value: unknown): Cell {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => (isObject(v) ? JSON.stringify(v) : String(v))).join(',');
  if (isObject(value)) return JSON.stringify(value);
  return value as Cell;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
