import { sql, type Kysely, type Transaction } from 'kysely';
import { MIGRATIONS, openDatabase, redactUrl, type DbTarget, type OpenedDatabase } from './database.js';
import { dialectOf } from './dialect.js';

/** Kysely's own bookkeeping, and SQLite's: never copied (the target has its own, up to date). */
const INTERNAL_TABLES = new Set(['kysely_migration', 'kysely_migration_lock', 'sqlite_sequence']);
/** What the migrations themselves put in a fresh database (the built-in roles): replaced by the source's. */
const SEEDED_TABLES = ['role_capabilities', 'roles'];

/** A copy refused before anything was written (a non-empty target, an old source...): the message says why. */
export class CopyRefused extends Error {
  override name = 'CopyRefused';
}

export interface CopyReport {
  from: string;
  to: string;
  /** Every table copied, in the order it was written, with its rows in both (equal, or nothing was committed). */
  tables: Array<{ table: string; rows: number }>;
}

type AnyDb = Kysely<any>;
interface TablePlan {
  name: string;
  columns: string[];
  key: string[];
  /** Columns that reference the table itself (a group's parent): written once every row is in. */
  selfReferences: string[];
}

/**
 * Copies a whole installation, every table of it, from one store to another (SQLite to PostgreSQL,
 * or back): users with their password hashes, sessions and tokens (stored hashed, so logins keep
 * working), groups, roles, quotas, tasks with their logs, agents, the audit log. Generic over the
 * tables: they are read from the source and written in the order their foreign keys need, ids
 * kept, and each id sequence set where the source's was, so that no id is ever handed out twice.
 *
 * The source must be at this version's schema and is only read, in one snapshot; the target is
 * migrated, must hold no data (a fresh database, as `createdb` makes it), and is written in one
 * transaction that commits only if every table's rows in the target equal the source's.
 */
export async function copyDatabase(from: DbTarget, to: DbTarget, options: { onProgress?: (line: string) => void } = {}): Promise<CopyReport> {
  const say = options.onProgress ?? (() => {});
  if (sameTarget(from, to)) throw new CopyRefused('--from and --to name the same database');
  const source = await openDatabase(from, { readonly: true }).catch((error: unknown) => {
    throw new CopyRefused(`cannot read ${from.url === undefined ? from.path : redactUrl(from.url)}: ${(error as Error).message}`);
  });
  let target: OpenedDatabase | undefined;
  try {
    await requireCurrentSchema(source);
    target = await openDatabase(to);
    const targetDb = target.db as AnyDb;
    await requireEmpty(targetDb, target.label);
    const plans = await planTables(source.db as AnyDb, targetDb);
    say(`copying ${plans.length} tables from ${source.label} to ${target.label}`);
    const tables: CopyReport['tables'] = [];
    // One snapshot of the source (a master still running there writes after it: stop it first).
    await (source.db as AnyDb)
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (src) => {
        await targetDb.transaction().execute(async (dst) => {
          for (const table of SEEDED_TABLES) await dst.deleteFrom(table).execute();
          for (const plan of plans) tables.push({ table: plan.name, rows: await copyTable(src, dst, plan, say) });
          await copySequences(src, dst, plans);
          for (const { table, rows } of tables) {
            const written = await countOf(dst, table);
            if (written !== rows) throw new Error(`table ${table}: ${rows} rows read but ${written} in the target; nothing was committed`);
          }
        });
      });
    return { from: source.label, to: target.label, tables };
  } finally {
    await source.close();
    await target?.close();
  }
}

function sameTarget(a: DbTarget, b: DbTarget): boolean {
  return a.url !== undefined ? a.url === b.url : b.url === undefined && a.path === b.path;
}

async function requireCurrentSchema(source: OpenedDatabase): Promise<void> {
  const db = source.db as AnyDb;
  let applied: string[];
  try {
    applied = (await db.selectFrom('kysely_migration').select('name').execute()).map((r) => r.name as string);
  } catch {
    throw new CopyRefused(`${source.label} is not a Trainyard database (it has no migration history)`);
  }
  const missing = Object.keys(MIGRATIONS).filter((name) => !applied.includes(name));
  const unknown = applied.filter((name) => !(name in MIGRATIONS));
  if (unknown.length > 0) {
    throw new CopyRefused(`${source.label} was written by a newer Trainyard (migrations ${unknown.join(', ')}): copy it with that version`);
  }
  if (missing.length > 0) {
    throw new CopyRefused(
      `${source.label} is from an older Trainyard (it lacks migrations ${missing.join(', ')}): start this version's master on it once (it upgrades the database in place), stop it, then copy`,
    );
  }
}

/** Nothing but what the migrations put there: no user, no task, no audit entry, only the built-in roles. */
async function requireEmpty(db: AnyDb, label: string): Promise<void> {
  const held: string[] = [];
  for (const table of await userTables(db)) {
    if (SEEDED_TABLES.includes(table)) continue;
    const rows = await countOf(db, table);
    if (rows > 0) held.push(`${rows} in ${table}`);
  }
  const roles = await db.selectFrom('roles').select('name').where('builtin', '=', 0).execute();
  if (roles.length > 0) held.push(`${roles.length} roles of its own`);
  if (held.length > 0) {
    throw new CopyRefused(`${label} already holds data (${held.join(', ')}): copy only into an empty database (e.g. one just made with createdb)`);
  }
}

async function userTables(db: AnyDb): Promise<string[]> {
  const tables = await db.introspection.getTables();
  const schema = dialectOf(db) === 'postgres' ? ((await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s ?? 'public') : undefined;
  return tables.filter((t) => !t.isView && !INTERNAL_TABLES.has(t.name) && (schema === undefined || t.schema === schema)).map((t) => t.name);
}

/** Every table with its columns and key, parents before children (a group's parent within its table comes later). */
async function planTables(source: AnyDb, target: AnyDb): Promise<TablePlan[]> {
  const sourceTables = new Map((await source.introspection.getTables()).filter((t) => !INTERNAL_TABLES.has(t.name) && !t.isView).map((t) => [t.name, t]));
  const targetTables = new Map((await target.introspection.getTables()).filter((t) => !INTERNAL_TABLES.has(t.name) && !t.isView).map((t) => [t.name, t]));
  const names = await userTables(target);
  const extra = [...sourceTables.keys()].filter((name) => !names.includes(name));
  if (extra.length > 0) throw new CopyRefused(`the source has tables this version does not know: ${extra.join(', ')}`);
  const plans = new Map<string, TablePlan & { parents: string[] }>();
  for (const name of names) {
    const columns = targetTables.get(name)!.columns.map((c) => c.name);
    const sourceColumns = sourceTables.get(name)?.columns.map((c) => c.name) ?? [];
    const differ = columns.filter((c) => !sourceColumns.includes(c)).concat(sourceColumns.filter((c) => !columns.includes(c)));
    if (differ.length > 0) throw new CopyRefused(`table ${name} differs between the two databases (columns ${differ.join(', ')})`);
    const references = await foreignKeys(target, name);
    const key = await primaryKey(source, name);
    plans.set(name, {
      name,
      columns,
      key: key.length > 0 ? key : columns,
      selfReferences: references.filter((r) => r.table === name).map((r) => r.column),
      parents: [...new Set(references.map((r) => r.table).filter((t) => t !== name))],
    });
  }
  // Parents first (Kahn's order); the schema has no cycle across tables.
  const ordered: TablePlan[] = [];
  const done = new Set<string>();
  while (ordered.length < plans.size) {
    const ready = [...plans.values()].filter((p) => !done.has(p.name) && p.parents.every((parent) => done.has(parent) || !plans.has(parent)));
    if (ready.length === 0) throw new Error(`the tables' foreign keys form a cycle: ${[...plans.keys()].filter((n) => !done.has(n)).join(', ')}`);
    for (const plan of ready.sort((a, b) => a.name.localeCompare(b.name))) {
      done.add(plan.name);
      ordered.push(plan);
    }
  }
  return ordered;
}

async function foreignKeys(db: AnyDb, table: string): Promise<Array<{ column: string; table: string }>> {
  if (dialectOf(db) === 'postgres') {
    const result = await sql<{ column: string; table: string }>`
      select a.attname as column, c.confrelid::regclass::text as table
      from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
      where c.contype = 'f' and c.conrelid = ${table}::regclass`.execute(db);
    return result.rows;
  }
  return (await sql<{ column: string; table: string }>`select "from" as "column", "table" as "table" from pragma_foreign_key_list(${table})`.execute(db)).rows;
}

async function primaryKey(db: AnyDb, table: string): Promise<string[]> {
  if (dialectOf(db) === 'postgres') {
    const result = await sql<{ column: string }>`
      select a.attname as column
      from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
      where i.indrelid = ${table}::regclass and i.indisprimary
      order by array_position(i.indkey::int2[], a.attnum)`.execute(db);
    return result.rows.map((r) => r.column);
  }
  return (await sql<{ name: string }>`select name from pragma_table_info(${table}) where pk > 0 order by pk`.execute(db)).rows.map((r) => r.name);
}

/** Reads the table in key order, a batch at a time, and writes each batch; returns how many rows. */
async function copyTable(src: Transaction<any>, dst: Transaction<any>, plan: TablePlan, say: (line: string) => void): Promise<number> {
  // Both stores cap the parameters of one statement (SQLite 32766, PostgreSQL 65535).
  const batch = Math.max(1, Math.floor(30_000 / plan.columns.length));
  const total = await countOf(src, plan.name);
  let copied = 0;
  let after: unknown[] | undefined;
  const deferred: Array<{ key: unknown[]; later: Record<string, unknown> }> = [];
  for (;;) {
    let query = src.selectFrom(plan.name).select(plan.columns);
    if (after) {
      const last = after;
      query =
        plan.key.length === 1
          ? query.where(plan.key[0]!, '>', last[0])
          : query.where((eb) => eb(eb.refTuple(...(plan.key as [string, string])), '>', eb.tuple(...(last as [unknown, unknown]))));
    }
    for (const column of plan.key) query = query.orderBy(column);
    const rows = (await query.limit(batch).execute()) as Array<Record<string, unknown>>;
    if (rows.length === 0) break;
    const values = rows.map((row) => {
      if (plan.selfReferences.length === 0) return row;
      // Written as null now and set once every row exists: a parent may come after its child.
      const written = { ...row };
      const later: Record<string, unknown> = {};
      for (const column of plan.selfReferences) {
        if (row[column] !== null) later[column] = row[column];
        written[column] = null;
      }
      if (Object.keys(later).length > 0) deferred.push({ key: plan.key.map((k) => row[k]), later });
      return written;
    });
    await dst.insertInto(plan.name).values(values).execute();
    copied += rows.length;
    after = plan.key.map((k) => rows.at(-1)![k]);
    if (total > batch) say(`  ${plan.name}: ${copied} of ${total} rows`);
  }
  for (const { key, later } of deferred) {
    let update = dst.updateTable(plan.name).set(later);
    plan.key.forEach((k, i) => (update = update.where(k, '=', key[i])));
    await update.execute();
  }
  say(`${plan.name}: ${copied} rows`);
  return copied;
}

/**
 * Each table's id sequence goes where the source's was (or past the highest id, if higher): ids of
 * deleted rows (a deleted task's) are never handed out again.
 */
async function copySequences(src: Transaction<any>, dst: Transaction<any>, plans: TablePlan[]): Promise<void> {
  const from = await sequences(src, plans);
  const targetPg = dialectOf(dst) === 'postgres';
  for (const plan of plans) {
    if (!plan.key.includes('id') || plan.key.length !== 1) continue;
    const max = Number((await dst.selectFrom(plan.name).select((eb) => eb.fn.max('id').as('max')).executeTakeFirst())?.max ?? 0);
    const next = Math.max(from.get(plan.name) ?? 0, max);
    if (targetPg) {
      const sequence = (await sql<{ s: string | null }>`select pg_get_serial_sequence(${plan.name}, 'id') as s`.execute(dst)).rows[0]?.s;
      if (!sequence) continue;
      // Next id: next + 1 (is_called false would hand out `next` itself).
      if (next > 0) await sql`select setval(${sequence}, ${next}, true)`.execute(dst);
    } else if (next > 0) {
      const known = await dst.selectFrom('sqlite_sequence').select('seq').where('name', '=', plan.name).executeTakeFirst();
      if (known) await dst.updateTable('sqlite_sequence').set({ seq: next }).where('name', '=', plan.name).execute();
      else await dst.insertInto('sqlite_sequence').values({ name: plan.name, seq: next }).execute();
    }
  }
}

/** The last id each table's sequence handed out in the source. */
async function sequences(db: Transaction<any>, plans: TablePlan[]): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  if (dialectOf(db) === 'sqlite') {
    for (const row of (await sql<{ name: string; seq: number }>`select name, seq from sqlite_sequence`.execute(db)).rows) result.set(row.name, Number(row.seq));
    return result;
  }
  for (const plan of plans) {
    if (!plan.key.includes('id')) continue;
    const sequence = (await sql<{ s: string | null }>`select pg_get_serial_sequence(${plan.name}, 'id') as s`.execute(db)).rows[0]?.s;
    if (!sequence) continue;
    const row = (await sql<{ last_value: number; is_called: number }>`select last_value, is_called from ${sql.raw(sequence)}`.execute(db)).rows[0];
    if (row?.is_called) result.set(plan.name, Number(row.last_value));
  }
  return result;
}

async function countOf(db: AnyDb, table: string): Promise<number> {
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}
