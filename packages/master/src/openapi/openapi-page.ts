type Json = Record<string, unknown>;

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** `code` spans for backquoted words, the rest escaped. */
const prose = (text: string) => escape(text).replace(/`([^`]+)`/g, '<code>$1</code>');
const schemaBlock = (schema: unknown) => `<details><summary>schema</summary><pre>${escape(JSON.stringify(schema, null, 2))}</pre></details>`;

/** A parameter's type in a word or two: `integer`, `string (enum)`, `kind: a | b`. */
function typeOf(schema: Json | undefined): string {
  if (!schema) return '';
  if (Array.isArray(schema.enum)) return (schema.enum as unknown[]).map(String).join(' | ');
  if (typeof schema.type === 'string') return schema.type;
  if (Array.isArray(schema.type)) return (schema.type as string[]).join(' | ');
  return 'any';
}

/**
 * The API reference people read, rendered on the master from the same OpenAPI document: plain
 * HTML and inline CSS, no script and nothing loaded from anywhere else (the master serves it under
 * a CSP that allows nothing more).
 */
export function renderOpenApiPage(document: Json): string {
  const info = document.info as { title: string; version: string; description: string };
  const paths = document.paths as Record<string, Record<string, Json>>;
  const operations = Object.entries(paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const tags = [...new Set(operations.map(({ op }) => (op.tags as string[])[0]!))].sort();
  const sections = tags.map((tag) => {
    const ops = operations.filter(({ op }) => (op.tags as string[])[0] === tag).sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
    return `<h2 id="tag-${escape(tag)}">${escape(tag)}</h2>\n${ops.map(({ path, method, op }) => operation(path, method, op)).join('\n')}`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(info.title)} ${escape(info.version)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#1d2330}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #d8dde6;margin-top:2em;text-transform:capitalize}
section{border:1px solid #d8dde6;border-radius:6px;margin:1em 0;padding:.6em 1em}
.m{display:inline-block;min-width:4.5em;font-weight:700;font-family:monospace;text-transform:uppercase}
.get{color:#1a7f37}.post{color:#0969da}.patch,.put{color:#9a6700}.delete{color:#cf222e}
code,pre{font-family:ui-monospace,monospace;font-size:13px;background:#f3f5f8;border-radius:3px}code{padding:0 .25em}
pre{padding:.6em;overflow:auto}table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #d8dde6;padding:.2em .6em;text-align:left}
nav a{margin-right:1em}
</style></head><body>
<h1>${escape(info.title)}</h1>
<p>Release ${escape(info.version)}. ${prose(info.description)} The machine-readable document: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).</p>
<nav>${tags.map((tag) => `<a href="#tag-${escape(tag)}">${escape(tag)}</a>`).join('')}</nav>
${sections.join('\n')}
</body></html>
`;
}

function operation(path: string, method: string, op: Json): string {
  const parameters = (op.parameters as Json[]).map(
    (p) => `<tr><td><code>${escape(String(p.name))}</code></td><td>${escape(String(p.in))}</td><td>${p.required ? 'yes' : ''}</td><td>${escape(typeOf(p.schema as Json))}</td></tr>`,
  );
  const body = (op.requestBody as { content: Record<string, { schema: unknown }> } | undefined)?.content['application/json']?.schema;
  const responses = Object.entries(op.responses as Record<string, { description: string; content?: Record<string, { schema: unknown }> }>).map(([status, r]) => {
    const [type, content] = Object.entries(r.content ?? {})[0] ?? [];
    return `<li><b>${escape(status)}</b> ${prose(r.description)}${type ? ` (<code>${escape(type)}</code>)` : ''}${content && status !== 'default' && status !== '401' && status !== '403' ? schemaBlock(content.schema) : ''}</li>`;
  });
  return `<section id="${escape(String(op.operationId))}">
<div><span class="m ${method}">${escape(method)}</span> <code>${escape(path)}</code> &mdash; <code>${escape(String(op.operationId))}</code></div>
<p>${prose(String(op.description))}</p>
${parameters.length ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th></tr>${parameters.join('')}</table>` : ''}
${body ? `<div>Body (JSON): ${schemaBlock(body)}</div>` : ''}
<ul>${responses.join('')}</ul>
</section>`;
}
