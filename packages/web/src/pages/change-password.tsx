import { useState } from 'preact/hooks';
import type { MeResponse } from '@trainyard/shared';
import { api } from '../api.js';
import { ErrorBanner, Page } from '../components.js';

export function ChangePasswordPage(props: { me: MeResponse }) {
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const password = String(data.get('password'));
    if (password !== String(data.get('again'))) {
      setError(new Error('The two passwords do not match.'));
      return;
    }
    try {
      await api('users.setPassword', { params: { username: props.me.user.username }, body: { password } });
      setError(undefined);
      setDone(true);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Page title="Change password">
      <ErrorBanner error={error} />
      {done && <p class="notice">Password changed. Your other sessions have ended.</p>}
      <form onSubmit={submit} class="stack" aria-label="Change password">
        <label>
          New password
          <input name="password" type="password" autoComplete="new-password" />
        </label>
        <label>
          Repeat it
          <input name="again" type="password" autoComplete="new-password" />
        </label>
        <button type="submit">Change password</button>
      </form>
    </Page>
  );
}
