import { useEffect, useState } from 'preact/hooks';

/** A tiny history-API router: the path is the state. */
export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.dispatchEvent(new Event('yard:navigate'));
}

export function useLocation(): string {
  const [path, setPath] = useState(window.location.pathname + window.location.search);
  useEffect(() => {
    const update = () => setPath(window.location.pathname + window.location.search);
    window.addEventListener('popstate', update);
    window.addEventListener('yard:navigate', update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener('yard:navigate', update);
    };
  }, []);
  return path;
}

export function Link(props: { href: string; children: preact.ComponentChildren; class?: string; current?: boolean }) {
  return (
    <a
      href={props.href}
      class={props.class}
      aria-current={props.current ? 'page' : undefined}
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}
