import { useState } from 'preact/hooks';
import { safeRedirect } from '../api.js';
import { ErrorBanner } from '../components.js';
import { navigate } from '../router.js';
import { signIn } from '../session.js';

export function LoginPage(props: { onSignedIn: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const redirect = safeRedirect(new URLSearchParams(window.location.search).get('redirect'));

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(username.trim(), password);
      sessionStorage.removeItem('yard:signed-out');
      props.onSignedIn();
      // A task's service (/proxy/ID/...) is not a page of this app: the browser loads it.
      if (redirect.startsWith('/proxy/')) window.location.assign(redirect);
      else navigate(redirect, true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form onSubmit={submit} aria-label="Sign in">
        <h1>Trainyard</h1>
        <p>Sign in to continue.</p>
        <ErrorBanner error={error} />
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
