/**
 * A strict reader of Prometheus' text exposition format (version 0.0.4), for tests. The npm
 * parsers checked (parse-prometheus-text-format 1.1.1, exposition 1.2.0) lose or mangle the labels
 * of histograms, so this one follows the format's grammar itself and throws on anything it does
 * not allow: names, label syntax and escapes, values, HELP/TYPE lines, a family's samples kept
 * together, histograms whose buckets are cumulative and end in `+Inf` equal to `_count`.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string | undefined;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'] as const;
const SUFFIXES: Record<Family['type'], string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const family = (name: string): Family => {
    let found = families.get(name);
    if (!found) {
      found = { name, help: undefined, type: 'untyped', samples: [] };
      families.set(name, found);
    }
    return found;
  };
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the text must end with a line feed');
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line.slice(0, 80))})`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!meta) return; // a comment
      const [, keyword, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const f = family(name);
      if (f.samples.length > 0) throw new Error(`${where}: ${keyword} after the family's samples`);
      if (keyword === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: a second HELP`);
        f.help = unescape(rest, false, where);
      } else {
        if (!(TYPES as readonly string[]).includes(rest)) throw new Error(`${where}: unknown type ${rest}`);
        f.type = rest as Family['type'];
      }
      current = f;
      return;
    }
    const sample = parseSample(line, where);
    const owner = current && SUFFIXES[current.type].some((suffix) => sample.name === current!.name + suffix) ? current : undefined;
    if (!owner) {
      if (families.has(sample.name)) throw new Error(`${where}: samples of ${sample.name} are not together`);
      current = family(sample.name);
      current.samples.push(sample);
      return;
    }
    owner.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function parseSample(line: string, where: string): Sample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) throw new Error(`${where}: no metric name`);
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.trimStart();
      if (rest.startsWith('}')) break;
      const label = /^([^=\s]+)\s*=\s*"/.exec(rest);
      if (!label || !LABEL_NAME.test(label[1]!)) throw new Error(`${where}: bad label`);
      rest = rest.slice(label[0].length);
      let value = '';
      let i = 0;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === '\\') {
          const next = rest[++i];
          if (next === 'n') value += '\n';
          else if (next === '\\' || next === '"') value += next;
          else throw new Error(`${where}: bad escape in a label value`);
        } else value += rest[i];
      }
      if (i >= rest.length) throw new Error(`${where}: unterminated label value`);
      if (Object.hasOwn(labels, label[1]!)) throw new Error(`${where}: label ${label[1]} twice`);
      labels[label[1]!] = value;
      rest = rest.slice(i + 1).trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) throw new Error(`${where}: expected , or }`);
    }
    rest = rest.slice(1);
  }
  const parts = rest.trim().split(/\s+/);
  if (!/^\s/.test(rest) || parts.length < 1 || parts.length > 2) throw new Error(`${where}: expected a value and an optional timestamp`);
  const value = parseValue(parts[0]!, where);
  if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
  return { name, labels, value };
}

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case, with an optional sign. */
function parseValue(text: string, where: string): number {
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(text);
  if (special) return special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${text}`);
  return Number(text);
}

function unescape(text: string, quotes: boolean, where: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => {
    if (c === 'n') return '\n';
    if (c === '\\' || (quotes && c === '"')) return c;
    throw new Error(`${where}: bad escape \\${c}`);
  });
}

/** Each series' buckets rise with `le`, end in +Inf, and +Inf equals its _count. */
function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
  for (const s of f.samples) {
    const entry = series.get(keyOf(s.labels)) ?? { buckets: [] };
    series.set(keyOf(s.labels), entry);
    if (s.name.endsWith('_bucket')) {
      if (s.labels.le === undefined) throw new Error(`${f.name}: a bucket without le`);
      entry.buckets.push([parseValue(s.labels.le, f.name), s.value]);
    } else if (s.name.endsWith('_count')) entry.count = s.value;
  }
  for (const [key, { buckets, count }] of series) {
    const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
    if (sorted.at(-1)?.[0] !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    sorted.forEach(([, v], i) => {
      if (i > 0 && v < sorted[i - 1]![1]) throw new Error(`${f.name}${key}: buckets are not cumulative`);
    });
    if (count !== sorted.at(-1)![1]) throw new Error(`${f.name}${key}: +Inf bucket ${sorted.at(-1)![1]} is not _count ${count}`);
  }
}

/** A counter's or gauge's value, or a histogram's count, of the series with these labels; 0 when none. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) throw new Error(`no metric ${name}`);
  const wanted = family.type === 'histogram' ? `${name}_count` : name;
  const sample = family.samples.find((s) => s.name === wanted && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return sample?.value ?? 0;
}
