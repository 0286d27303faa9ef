import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { navigate } from './router.js';

export function ErrorBanner(props: { error: unknown }) {
  if (!props.error) return null;
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export function Page(props: { title: string; children: ComponentChildren }) {
  return (
    <section>
      <h1>{props.title}</h1>
      {props.children}
    </section>
  );
}

export function formatTime(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : '-';
}

/**
 * What admin pages do on a click: run a call, then say what happened (or show the master's reason)
 * and reload; `go` runs one and moves to another page instead.
 */
export function useActions(reload: () => Promise<unknown>) {
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const act = async (what: () => Promise<unknown>, done: string): Promise<boolean> => {
    setError(undefined);
    setNotice(undefined);
    try {
      await what();
      setNotice(done);
      await reload();
      return true;
    } catch (err) {
      setError(err);
      return false;
    }
  };
  const go = async (what: () => Promise<unknown>, to: string): Promise<void> => {
    try {
      await what();
      navigate(to);
    } catch (err) {
      setError(err);
    }
  };
  return { error, setError, notice, act, go };
}

/** The outcome of the last action: the master's reason, or what was done. */
export function Feedback(props: { error: unknown; notice: string | undefined }) {
  return (
    <>
      <ErrorBanner error={props.error} />
      {props.notice && <p class="notice">{props.notice}</p>}
    </>
  );
}
