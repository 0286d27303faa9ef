import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { MeResponse } from '@trainyard/shared';
import { can } from './access.js';
import { ErrorBanner } from './components.js';
import { AgentsPage } from './pages/agents.js';
import { ChangePasswordPage } from './pages/change-password.js';
import { GroupPage, GroupsPage } from './pages/groups.js';
import { LoginPage } from './pages/login.js';
import { TaskDetailPage } from './pages/task-detail.js';
import { RolePage, RolesPage } from './pages/roles.js';
import { KIND_PATHS, TaskListPage } from './pages/task-list.js';
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
  if (path === '/') {
    navigate('/experiments', true);
    return null;
  }

  const [, section, id] = path.split('/');
  // Group paths hold "/": /groups/research/vision is the group research/vision.
  const rest = decodeURIComponent(path.split('/').slice(2).join('/'));
  let page;
  if (section && KIND_PATHS[section] && id && /^\d+$/.test(id)) page = <TaskDetailPage id={Number(id)} me={me} />;
  else if (section && KIND_PATHS[section] && !id) page = <TaskListPage section={section} key={section} />;
  else if (section === 'users') page = <UsersPage me={me} />;
  else if (section === 'groups') page = rest ? <GroupPage path={rest} key={rest} /> : <GroupsPage />;
  else if (section === 'roles') page = rest ? <RolePage name={rest} key={rest} /> : <RolesPage />;
  else if (section === 'agents') page = <AgentsPage />;
  else if (section === 'account' && id === 'password') page = <ChangePasswordPage me={me} />;
  else page = <p class="error">There is no page at {path}.</p>;
  // Only what this user may use; the master refuses the rest anyway.
  const adminSections = [
    ...(can(me, 'see_status') ? ['agents'] : []),
    ...(can(me, 'change_config') ? ['users', 'groups', 'roles'] : []),
  ];

  return (
    <>
      <header>
        <nav aria-label="Sections">
          <strong>Trainyard</strong>
          {Object.keys(KIND_PATHS).map((s) => (
            <Link href={`/${s}`} class={section === s ? 'active' : ''} key={s}>
              {s[0]!.toUpperCase() + s.slice(1)}
            </Link>
          ))}
          {adminSections.map((s) => (
            <Link href={`/${s}`} class={section === s ? 'active' : ''} key={s}>
              {s[0]!.toUpperCase() + s.slice(1)}
            </Link>
          ))}
        </nav>
        <details class="user-menu">
          <summary aria-label="User menu">{me.user.username}</summary>
          <div class="menu">
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
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
