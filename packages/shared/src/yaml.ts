import { parseDocument, stringify } from 'yaml';
import { findUnsafeStructure } from './plain-data.js';

/** YAML that cannot be used; the message reads after "<what> is": "not valid YAML: ...". */
export class YamlError extends Error {
  override name = 'YamlError';
}

/**
 * The one way Trainyard reads YAML (task configs on both sides, master.yaml): duplicate keys are
 * errors, aliases are bounded (`maxAliasCount` stops "billion laughs" documents before they
 * expand), and a document that refers to itself, nests too deep or uses a forbidden key is refused.
 */
export function parseYaml(text: string, options: { maxAliasCount?: number } = {}): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) throw new YamlError(`not valid YAML: ${doc.errors[0]!.message}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: options.maxAliasCount ?? 50 });
  } catch (error) {
    throw new YamlError(`not usable YAML: ${(error as Error).message}`);
  }
  const problem = findUnsafeStructure(value);
  if (problem) throw new YamlError(`not usable YAML: ${problem}`);
  return value;
}

/** Data as YAML for people and scripts (`yard ... -o yaml`): no anchors for repeated objects, no folded lines. */
export function stringifyYaml(value: unknown): string {
  return stringify(value, { aliasDuplicateObjects: false, lineWidth: 0 });
}
