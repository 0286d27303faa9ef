import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
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

export function Page(props: { title: string; subtitle?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page">
      <div class="page-head">
        <div>
          <h1>{props.title}</h1>
          {props.subtitle && <p class="subtitle">{props.subtitle}</p>}
        </div>
        {props.actions && <div class="page-actions">{props.actions}</div>}
      </div>
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

/** A modal dialog (the browser's own <dialog>: focus kept inside, Escape closes) opened by a button. */
export function DialogButton(props: { label: string; title: string; children: (close: () => void) => ComponentChildren; class?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const close = () => {
    ref.current?.close();
    setOpen(false);
  };
  return (
    <>
      <button type="button" class={props.class ?? 'primary'} onClick={() => (setOpen(true), ref.current?.showModal())}>
        {props.label}
      </button>
      <dialog ref={ref} aria-label={props.title} onClose={() => setOpen(false)}>
        <header class="dialog-head">
          <h2>{props.title}</h2>
          <button type="button" class="icon" aria-label="Close" onClick={close}>
            ×
          </button>
        </header>
        {open && props.children(close)}
      </dialog>
    </>
  );
}

/** A form field: its label beside or above the input, a hint, and the browser's validation message once it was touched. */
export function Field(props: { label: string; hint?: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span class="field-label">{props.label}</span>
      {props.children}
      {props.hint && <span class="field-hint">{props.hint}</span>}
    </label>
  );
}

/**
 * The browser's own validation, said in the page: on submit, each invalid field gets its message
 * beneath it (and aria-invalid); returns whether the form may be sent.
 */
export function validateForm(form: HTMLFormElement): boolean {
  let ok = true;
  for (const element of Array.from(form.elements)) {
    if (!(element instanceof HTMLInputElement || element instanceof HTMLSelectElement || element instanceof HTMLTextAreaElement)) continue;
    const holder = element.closest('.field');
    holder?.querySelector('.field-error')?.remove();
    element.removeAttribute('aria-invalid');
    if (element.checkValidity()) continue;
    ok = false;
    element.setAttribute('aria-invalid', 'true');
    const message = document.createElement('span');
    message.className = 'field-error';
    message.setAttribute('role', 'alert');
    message.textContent = element.title && element.validity.patternMismatch ? element.title : element.validationMessage;
    holder?.appendChild(message);
  }
  return ok;
}

/** A task state as a coloured badge (colour and text: the state never depends on colour alone). */
export function StateBadge(props: { state: string; detail?: string | null; class?: string }) {
  return (
    <span class={`badge state-${props.state.toLowerCase()} ${props.class ?? ''}`}>
      {props.state}
      {props.detail ? <span class="badge-detail"> {props.detail}</span> : null}
    </span>
  );
}

/** Allocated against capacity, as a bar and in numbers. */
export function Meter(props: { label: string; used: number; total: number; format?: (n: number) => string }) {
  const format = props.format ?? ((n: number) => `${+n.toFixed(1)}`);
  const share = props.total > 0 ? Math.min(1, props.used / props.total) : 0;
  return (
    <div class="meter" data-meter={props.label}>
      <div class="meter-text">
        <span>{props.label}</span>
        <span>
          {format(props.used)} / {format(props.total)}
        </span>
      </div>
      <div class="meter-bar" role="meter" aria-label={props.label} aria-valuemin={0} aria-valuemax={props.total} aria-valuenow={props.used}>
        <div class={`meter-fill${share > 0.9 ? ' full' : ''}`} style={{ width: `${share * 100}%` }} />
      </div>
    </div>
  );
}

/** A duration as people read it: 45s, 12m 5s, 3h 20m, 2d 4h. */
export function formatDuration(ms: number | null): string {
  if (ms === null || ms < 0) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Runs `load` now and every `ms` while the page shows, and never after it left. */
export function usePolling(load: (live: () => boolean) => Promise<unknown>, ms: number, deps: unknown[]): void {
  useEffect(() => {
    let live = true;
    const run = () => void load(() => live).catch(() => undefined);
    run();
    const timer = setInterval(run, ms);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, deps);
}

/** Offers text as a file to save (the CSV of a report, a task's log). */
export function download(name: string, text: string, type = 'text/plain'): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
