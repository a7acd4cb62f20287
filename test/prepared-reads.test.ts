// Prepared reads (src/store/prepared.ts): the hot reads below knex return exactly the rows knex returns, on every
// engine; on a SQLite file they run on the read-only handle's connection and see every commit of the writer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engines, openTestStore } from './helpers/db.ts';
import { createReadDb, openStore, readConnectionOf } from '../src/store/db.ts';
import { preparedReads } from '../src/store/prepared.ts';
import { insertMachine, readMachine, readMachinePage, findMachine } from '../src/modules/machines/repo.ts';
import type { Machine } from '../src/modules/machines/types.ts';

const machine = (i: number): Machine => ({
  id: `mch_prep${String(i).padStart(3, '0')}`,
  displayName: `m${i}`,
  status: 'active',
  ownerId: 'o',
  identityRef: `ref-${i}`,
  identityProof:
    i % 2
      ? {
          method: 'eip191',
          identityRef: `ref-${i}`,
          signerAddress: '0xabc',
          challengeId: 'c',
          verifiedAt: '2026-01-01T00:00:00.000Z',
          challengeExpiresAt: '2026-01-01T00:05:00.000Z',
          controllerAddresses: ['0xabc'],
          resolutionSource: 'peaqos-mcr',
        }
      : null,
  machineType: 'rig',
  runtimeProfile: 'p',
  capabilities: ['a', `c${i}`],
  labels: { i: String(i) },
  policyIds: [],
  skillKeys: [],
  // Two machines per millisecond, so pages break ties on the id.
  createdAt: new Date(Date.UTC(2026, 0, 1) + Math.floor(i / 2)).toISOString(),
  updatedAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
});

describe.each(engines())('prepared reads on $name', (engine) => {
  it('return the rows knex returns: by id, first page and every later page', async () => {
    const { db, drop } = await openTestStore(engine);
    try {
      for (let i = 0; i < 11; i++) await insertMachine(db, machine(i), null);
      const reads = preparedReads(db);
      for (const i of [0, 3, 10])
        expect(await readMachine(reads, machine(i).id)).toEqual(await findMachine(db, machine(i).id));
      expect(await readMachine(reads, 'mch_missing')).toBeUndefined();
      const seen: string[] = [];
      let after: { t: string; i: string } | undefined;
      for (;;) {
        const page = await readMachinePage(reads, after, 4);
        seen.push(...page.map((m) => m.id));
        if (page.length < 4) break;
        const last = page[page.length - 1]!;
        after = { t: last.createdAt, i: last.id };
      }
      expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => machine(i).id));
    } finally {
      await drop();
    }
  });
});

describe('prepared reads on a SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peaqos-prepared-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("run on the read-only handle's connection and see each commit of the writer at once", async () => {
    const file = join(dir, 'a.sqlite');
    const db = await openStore(file);
    const readDb = createReadDb(file)!;
    try {
      const reads = preparedReads(readDb);
      // Before the read handle's pool has opened its connection, the read goes through knex (and opens it).
      expect(readConnectionOf(readDb)).toBeUndefined();
      const first = readMachine(reads, machine(1).id);
      expect(first).toBeInstanceOf(Promise);
      expect(await first).toBeUndefined();
      expect(readConnectionOf(readDb)).toBeDefined();
      // On that connection a read is answered now, as a value (awaitable.ts); a failed one is still a rejection.
      expect(readMachine(reads, machine(1).id)).toBeUndefined();
      const failed = reads.one('select no_such_column from machines', []);
      expect(failed).toBeInstanceOf(Promise);
      await expect(failed).rejects.toThrow(/no_such_column/);
      // The main handle is not a read-only one: nothing runs on its connection outside knex.
      expect(readConnectionOf(db)).toBeUndefined();
      for (let i = 1; i <= 5; i++) {
        await insertMachine(db, machine(i), null);
        const now = readMachine(reads, machine(i).id);
        expect(now).not.toBeInstanceOf(Promise);
        expect((await now)?.labels).toEqual({ i: String(i) });
        await db('machines')
          .where({ id: machine(i).id })
          .update({ display_name: `renamed ${i}` });
        expect((await readMachine(reads, machine(i).id))?.displayName).toBe(`renamed ${i}`);
      }
      // A read while the writer holds an open transaction sees the last commit, not the transaction's writes.
      await db.transaction(async (trx) => {
        await trx('machines')
          .where({ id: machine(1).id })
          .update({ display_name: 'uncommitted' });
        expect((await readMachine(reads, machine(1).id))?.displayName).toBe('renamed 1');
      });
      expect((await readMachine(reads, machine(1).id))?.displayName).toBe('uncommitted');
    } finally {
      await readDb.destroy();
      await db.destroy();
    }
  });

  it('stop using the connection once the handle is destroyed', async () => {
    const file = join(dir, 'c.sqlite');
    const db = await openStore(file);
    const readDb = createReadDb(file)!;
    try {
      await readMachine(preparedReads(readDb), 'mch_none');
      expect(readConnectionOf(readDb)).toBeDefined();
      await readDb.destroy();
      expect(readConnectionOf(readDb)).toBeUndefined();
    } finally {
      await db.destroy();
    }
  });

  it('go through knex (with its wait for the lock) when the statement finds the database busy', async () => {
    const file = join(dir, 'b.sqlite');
    const db = await openStore(file);
    const readDb = createReadDb(file)!;
    try {
      await insertMachine(db, machine(7), null);
      const reads = preparedReads(readDb);
      await readMachine(reads, machine(7).id);
      const conn = readConnectionOf(readDb)!;
      const original = conn.prepare.bind(conn);
      let busy = 0;
      // The connection's next prepare (a statement not cached yet) fails as SQLite does when the file is locked.
      conn.prepare = (sql: string) => {
        if (sql.includes('from machines order by')) {
          busy++;
          conn.prepare = original;
          throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
        }
        return original(sql);
      };
      const page = await readMachinePage(reads, undefined, 10);
      expect(busy).toBe(1);
      expect(page.map((m) => m.id)).toEqual([machine(7).id]);
    } finally {
      await readDb.destroy();
      await db.destroy();
    }
  });
});
