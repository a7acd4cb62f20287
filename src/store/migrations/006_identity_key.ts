// One MCR machine, one registration: `identity_key` holds the canonical identity (the machine's DID, lower-cased)
// whichever identityRef form (`did:peaq:0x…` or `peaqos:machine:<id>`) registered it, under a unique index.
// Rows registered without an MCR resolution keep their DID form's key, or none for the numeric form.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('machines', (t) => {
    t.string('identity_key', 128).nullable();
  });
  await knex('machines')
    .where('identity_ref', 'like', 'did:peaq:%')
    .update({ identity_key: knex.raw('lower(identity_ref)') });
  await knex.schema.alterTable('machines', (t) => {
    t.unique(['identity_key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('machines', (t) => {
    t.dropUnique(['identity_key']);
    t.dropColumn('identity_key');
  });
}
