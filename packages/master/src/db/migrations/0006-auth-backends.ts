import type { Kysely } from 'kysely';

/**
 * Where each user's password is checked (internal, ldap, pam, file). Every existing user keeps
 * Trainyard's own argon2id hash, so the default is 'internal'. No check constraint: a later
 * backend must not need a table rebuild; the API validates the value.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('auth', 'text', (c) => c.notNull().defaultTo('internal')).execute();
}
