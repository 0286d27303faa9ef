import type { Kysely } from 'kysely';
import { columnTypes } from '../column-types.js';

/**
 * Admission: every task stores the run spec its agent executes (`run_spec`, JSON) and the group it
 * was created in (`group_id`, and `group_path` as it was then); users get a default group; agents
 * say which images they have (`images`, JSON; null: any). Tasks from before get the run spec their
 * config and identity always meant, derived here: the image as written, no pulling (agents.allow_pull
 * was off by default), every capability dropped, the old defaults' service ports.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema.alterTable('tasks').addColumn('run_spec', 'text').execute();
  await db.schema.alterTable('tasks').addColumn('group_id', t.int, (c) => c.references('groups.id').onDelete('set null')).execute();
  await db.schema.alterTable('tasks').addColumn('group_path', 'text').execute();
  await db.schema.alterTable('users').addColumn('default_group_id', t.int, (c) => c.references('groups.id').onDelete('set null')).execute();
  await db.schema.alterTable('agents').addColumn('images', 'text').execute();

  let after = 0;
  for (;;) {
    const rows: LegacyRow[] = await db
      .selectFrom('tasks')
      .select(['id', 'kind', 'config', 'run_uid', 'run_user', 'run_gid', 'run_group'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(1000)
      .execute();
    if (rows.length === 0) break;
    for (const row of rows) {
      await db.updateTable('tasks').set({ run_spec: JSON.stringify(legacyRunSpec(row)) }).where('id', '=', row.id).execute();
    }
    after = rows.at(-1)!.id;
  }
}

interface LegacyRow {
  id: number;
  kind: string;
  config: string;
  run_uid: number;
  run_user: string;
  run_gid: number;
  run_group: string;
}

interface LegacyConfig {
  image: string;
  entrypoint: string[];
  environment?: Record<string, string>;
  resources?: { slots?: number; cpu?: number; memory?: number };
  bind_mounts?: Array<{ host_path: string; container_path: string; read_only?: boolean; allowed_root?: string }>;
}

// Written out, not imported: a migration must do the same thing forever, whatever the code says later.
const LEGACY_PORTS: Record<string, number> = { notebook: 8888, tensorboard: 6006 };

function legacyRunSpec(row: LegacyRow) {
  const config = JSON.parse(row.config) as LegacyConfig;
  const resources = config.resources ?? {};
  return {
    image: config.image,
    pull: 'never',
    entrypoint: config.entrypoint,
    environment: config.environment ?? {},
    runAs: { uid: row.run_uid, user: row.run_user, gid: row.run_gid, group: row.run_group, supplementaryGroups: [] },
    // 0.1 resolved the whole identity at once, from the link or the default; which one is not recorded.
    identitySources: { uid: 'legacy', user: 'legacy', gid: 'legacy', group: 'legacy', supplementaryGroups: 'legacy' },
    bindMounts: (config.bind_mounts ?? []).map((m) => ({
      hostPath: m.host_path,
      containerPath: m.container_path,
      readOnly: m.read_only ?? false,
      // Mounts stored before the policy existed carry no root: their own path is their root.
      allowedRoot: m.allowed_root ?? m.host_path,
      source: 'task',
      rule: 'legacy',
    })),
    resources: {
      gpus: resources.slots ?? 0,
      ...(resources.cpu === undefined ? {} : { cpu: resources.cpu }),
      ...(resources.memory === undefined ? {} : { memory: resources.memory }),
    },
    ports: LEGACY_PORTS[row.kind] ? [{ container: LEGACY_PORTS[row.kind], name: 'http' }] : [],
    confinement: { capabilities: [], privileged: false, noNewPrivileges: true, hostNamespaces: [], devices: [] },
  };
}
