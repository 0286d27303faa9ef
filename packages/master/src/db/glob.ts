import { sql, type RawBuilder } from 'kysely';

/**
 * A case-insensitive glob match (`*` any run of characters, `?` one) as SQL every dialect reads the
 * same: `lower(column) like pattern escape '\'`, with the glob's own `%`, `_` and `\` escaped.
 */
export function globMatch(column: string, glob: string): RawBuilder<boolean> {
  const pattern = [...glob.toLowerCase()]
    .map((c) => (c === '*' ? '%' : c === '?' ? '_' : c === '%' || c === '_' || c === '\\' ? `\\${c}` : c))
    .join('');
  return sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`;
}
