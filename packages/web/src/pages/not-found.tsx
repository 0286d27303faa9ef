import { Page } from '../components.js';
import { Link } from '../router.js';

/** A path the UI has no page for (the master answers it with status 404 and this page). */
export function NotFoundPage(props: { path: string }) {
  return (
    <Page title="Page not found">
      <div class="not-found">
        <p>
          There is no page at <code>{props.path}</code>. It may have moved, or the link was mistyped.
        </p>
        <ul>
          <li>
            <Link href="/overview">The cluster overview</Link>
          </li>
          <li>
            <Link href="/experiments">Your experiments</Link>
          </li>
          <li>
            <Link href="/usage">Usage</Link>
          </li>
        </ul>
      </div>
    </Page>
  );
}
