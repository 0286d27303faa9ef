import { api, loginToken } from './api.js';

/** Users made through the API, as an admin would; returns each one's token, the admin's too, typed by the names given (`tokens.alice` is a string). */
export async function createUsers<const Name extends string>(url: string, names: readonly Name[], password = 'pw'): Promise<Record<Name | 'admin', string>> {
  const admin = await loginToken(url, 'admin');
  const tokens: Record<string, string> = { admin };
  for (const name of names) {
    const created = await api(url, 'POST', '/users', { token: admin, body: { username: name, password } });
    if (created.status !== 201) throw new Error(`creating ${name}: ${JSON.stringify(created.body)}`);
    tokens[name] = await loginToken(url, name, password);
  }
  return tokens;
}

export const experimentYaml = (name: string, extra = '') =>
  `name: ${name}\nimage: busybox:latest\nentrypoint: echo hello\nresources: {slots: 0, cpu: 1, memory: 64Mi}\n${extra}`;
