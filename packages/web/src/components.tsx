import type { ComponentChildren } from 'preact';

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
