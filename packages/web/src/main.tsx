import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { MeResponse } from '@trainyard/shared';
import { matchWebPage, TASK_SECTIONS } from '@trainyard/shared/constants';
import { can } from './access.js';
import { ErrorBanner } from './components.js';
import { AgentsPage } from './pages/agents.js';
import { ChangePasswordPage } from './pages/change-password.js';
import { GroupPage, GroupsPage } from './pages/groups.js';
import { LoginPage } from './pages/login.js';
import { NotFoundPage } from './pages/not-found.js';
import { OverviewPage } from './pages/overview.js';
import { QuotasPage, QuotaUsagePage } from './pages/quotas.js';
import { UsageReportPage } from './pages/usage.js';
import { TaskDetailPage } from './pages/task-detail.js';
import { RolePage, RolesPage } from './pages/roles.js';
import { TaskListPage } from './pages/task-list.js';
import { UsersPage } from './pages/users.js';
import { Link, navigate, useLocation } from './router.js';
import { currentSession, signOut } from './session.js';
import './style.css';

function App() {
  const location = useLocation();
  const path = location.split('?')[0]!;
  const [me, setMe] = useState<MeResponse | null>();
  const [error, setError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  const [menuOpen, setMenuOpen] = useState(false);
  // A page change closes the phone-width menu.
  useEffect(() => setMenuOpen(false), [path]);

  useEffect(() => {
    if (path === '/login') return;
    const allowDefault = sessionStorage.getItem('yard:signed-out') !== '1';
    currentSession(allowDefault)
      .then((session) => {
        if (session) return setMe(session);
        setMe(null);
        navigate(`/login?redirect=${encodeURIComponent(location)}`, true);
      })
      .catch(setError);
  }, [path === '/login', generation]);

  if (path === '/login') return <LoginPage onSignedIn={() => setGeneration((g) => g + 1)} />;
  if (error) return <ErrorBanner error={error} />;
  if (!me) return <p class="loading">Loading…</p>;
  // The same list of pages the master serves index.html for.
  const match = matchWebPage(path);
  if (match?.page === 'home') {
    navigate('/experiments', true);
    return null;
  }

  // The nav tab to highlight: a task's kind, or the list a group or role page belongs to.
  const section =
    match && 'section' in match ? match.section : match?.page === 'group' ? 'groups' : match?.page === 'role' ? 'roles' : match?.page;
  let page;
  if (match?.page === 'task') page = <TaskDetailPage id={match.id} me={me} />;
  else if (match?.page === 'tasks') page = <TaskListPage section={match.section} key={match.section} />;
  else if (match?.page === 'users') page = <UsersPage me={me} />;
  else if (match?.page === 'groups') page = <GroupsPage />;
  else if (match?.page === 'group') page = <GroupPage path={match.path} key={match.path} />;
  else if (match?.page === 'roles') page = <RolesPage />;
  else if (match?.page === 'role') page = <RolePage name={match.name} key={match.name} />;
  else if (match?.page === 'agents') page = <AgentsPage />;
  else if (match?.page === 'quotas') page = <QuotasPage me={me} />;
  else if (match?.page === 'my-usage') page = <QuotaUsagePage me={me} />;
  else if (match?.page === 'overview') page = <OverviewPage me={me} />;
  else if (match?.page === 'usage') page = <UsageReportPage me={me} />;
  else if (match?.page === 'change-password') page = <ChangePasswordPage me={me} />;
  else page = <NotFoundPage path={path} />;
  // Only what this user may use; the master refuses the rest anyway.
  const adminSections = [
    ...(can(me, 'see_status') ? ['agents'] : []),
    ...(can(me, 'see_status') || can(me, 'change_config') ? ['quotas'] : []),
    ...(can(me, 'change_config') ? ['users', 'groups', 'roles'] : []),
  ];

  const tab = (s: string, label = s[0]!.toUpperCase() + s.slice(1)) => (
    <Link href={`/${s}`} class={section === s ? 'active' : ''} key={s} current={section === s}>
      {label}
    </Link>
  );

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to the page
      </a>
      <header class="app-header">
        <Link href="/overview" class="brand">
          <img src="/favicon.svg" alt="" width={22} height={22} />
          Trainyard
        </Link>
        <button type="button" class="menu-button" aria-expanded={menuOpen} aria-controls="sections" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <nav id="sections" aria-label="Sections" class={menuOpen ? 'open' : ''}>
          {tab('overview')}
          {tab('usage')}
          <span class="nav-sep" aria-hidden="true" />
          {Object.keys(TASK_SECTIONS).map((s) => tab(s))}
          {adminSections.length > 0 && <span class="nav-sep" aria-hidden="true" />}
          {adminSections.map((s) => tab(s))}
        </nav>
        <details class="user-menu">
          <summary aria-label={`${me.user.username} (user menu)`}>{me.user.username}</summary>
          <div class="menu">
            <Link href="/account/usage">My quotas</Link>
            <Link href="/account/password">Change password</Link>
            <button
              onClick={async () => {
                await signOut();
                setMe(null);
                navigate('/login', true);
              }}
            >
              Sign out
            </button>
          </div>
        </details>
      </header>
      <main id="main">{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
