import Database from 'better-sqlite3';
import pg from 'pg';
import { FLOOR_CONFINEMENT, TASK_KINDS, type RunSpec } from '@trainyard/shared';

/**
 * Fills a migrated database with `count` tasks spread over `users` owners and every kind,
 * in one transaction (about a second per 100k rows here).
 */
export function seedTasks(dbPath: string, count: number, users: number[]): void {
  const db = new Database(dbPath);
  try {
    const insert = db.prepare(
      `insert into tasks (kind, owner_id, state, name, config, run_spec, run_uid, run_user, run_gid, run_group, restarts, created_at, updated_at)
       values (?, ?, 'COMPLETED', ?, ?, ?, 0, 'root', 0, 'root', 0, ?, ?)`,
    );
    const { config, spec } = seedRow();
    const now = Date.now();
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        insert.run(TASK_KINDS[i % TASK_KINDS.length], users[i % users.length], `seed-${i}`, config, spec, now, now);
      }
    })();
  } finally {
    db.close();
  }
}

/** The same tasks in a migrated PostgreSQL database, in one statement. */
export async function seedTasksPostgres(url: string, count: number, users: number[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { config, spec } = seedRow();
    await client.query(
      `insert into tasks (kind, owner_id, state, name, config, run_spec, run_uid, run_user, run_gid, run_group, restarts, created_at, updated_at)
       select ($1::text[])[1 + i % cardinality($1::text[])], ($2::bigint[])[1 + i % cardinality($2::bigint[])], 'COMPLETED', 'seed-' || i,
              $3, $4, 0, 'root', 0, 'root', 0, $5, $5
       from generate_series(0, $6::int - 1) as i`,
      [TASK_KINDS, users, config, spec, Date.now(), count],
    );
    await client.query('analyze tasks');
  } finally {
    await client.end();
  }
}

function seedRow(): { config: string; spec: string } {
  const config = JSON.stringify({
    name: 'seed',
    image: 'busybox:latest',
    entrypoint: ['true'],
    resources: { slots: 0 },
    bind_mounts: [],
    environment: {},
    max_restarts: 0,
  });
  const runSpec: RunSpec = {
    image: 'busybox:latest',
    pull: 'never',
    entrypoint: ['true'],
    environment: {},
    runAs: { uid: 0, user: 'root', gid: 0, group: 'root', supplementaryGroups: [] },
    identitySources: { uid: 'default_task', user: 'default_task', gid: 'default_task', group: 'default_task', supplementaryGroups: 'default_task' },
    bindMounts: [],
    resources: { gpus: 0 },
    ports: [],
    confinement: { ...FLOOR_CONFINEMENT, capabilities: [], hostNamespaces: [], devices: [] },
  };
  return { config, spec: JSON.stringify(runSpec) };
}
