// The store on every engine: migrations, JSON columns, keyset pagination (no gaps, no duplicates, opaque cursor,
// nextCursor omitted on the last page) and transactions that roll back with the audit event.
import { describe, expect, it } from 'vitest';
import { engines, openTestStore, PG_URL, PG_SKIP_REASON } from './helpers/db.ts';
import { listAuditEvents, recordAudit } from '../src/modules/audit/service.ts';
import { pageQuery } from '../src/http/pagination.ts';
import { decodeCursor } from '../src/store/pages.ts';

if (!PG_URL) {
  // Say it plainly in the test output instead of silently running SQLite only.
  console.warn(PG_SKIP_REASON);
}

describe.each(engines())('store on $name', (engine) => {
  it('runs the migrations and pages audit events in (createdAt, id) order without gaps or duplicates', async () => {
    const { db, drop } = await openTestStore(engine);
    try {
      const base = Date.parse('2026-01-01T00:00:00.000Z');
      for (let i = 0; i < 23; i++) {
        // Three events share each millisecond so the id tie-breaker is exercised.
        await recordAudit(db, {
          type: 'test.event',
          resourceType: 'thing',
          resourceId: `r${i % 4}`,
          payload: { i },
          at: new Date(base + Math.floor(i / 3)).toISOString(),
        });
      }
      const seen: number[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await listAuditEvents(db, {}, pageQuery(cursor ? { limit: '5', cursor } : { limit: '5' }));
        pages++;
        seen.push(...page.items.map((e) => e.payload.i as number));
        if (page.nextCursor !== undefined) {
          expect(page.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
          expect(page.items).toHaveLength(5);
        }
        expect(page).not.toHaveProperty('nextCursor', null);
        cursor = page.nextCursor;
      } while (cursor);
      expect(pages).toBe(5);
      expect(seen.sort((a, b) => a - b)).toEqual([...Array(23).keys()]);
      const filtered = await listAuditEvents(db, { resourceType: 'thing', resourceId: 'r1' }, pageQuery({}));
      expect(filtered.items.map((e) => e.payload.i)).toEqual([1, 5, 9, 13, 17, 21]);
      expect(filtered).not.toHaveProperty('nextCursor');
    } finally {
      await drop();
    }
  });

  it('rolls back a state change and its audit event together', async () => {
    const { db, drop } = await openTestStore(engine);
    try {
      await expect(
        db.transaction(async (trx) => {
          await recordAudit(trx, { type: 'x', resourceType: 'y', resourceId: 'z', at: new Date().toISOString() });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(Number((await db('audit_events').count({ n: '*' }))[0]!.n)).toBe(0);
    } finally {
      await drop();
    }
  });

  it('redacts secrets in audit payloads', async () => {
    const { db, drop } = await openTestStore(engine);
    try {
      await recordAudit(db, {
        type: 'x',
        resourceType: 'y',
        resourceId: 'z',
        at: new Date().toISOString(),
        payload: {
          authToken: 'abc',
          nested: { signature: '0x1', hasAuthToken: true },
          providerCredentials: { exa: { apiKey: 'k' } },
        },
      });
      const raw = JSON.stringify(await db('audit_events').select('payload'));
      expect(raw).not.toMatch(/"abc"|0x1|"k"/);
      expect(raw).toContain('hasAuthToken');
    } finally {
      await drop();
    }
  });
});

describe('cursors', () => {
  it('refuses anything it did not issue', () => {
    for (const bad of [
      '',
      '!!',
      Buffer.from('{"v":2}').toString('base64url'),
      Buffer.from('nope').toString('base64url'),
    ]) {
      expect(() => decodeCursor(bad)).toThrow(/cursor/i);
    }
    expect(() => pageQuery({ limit: '0' })).toThrow();
    expect(() => pageQuery({ limit: '501' })).toThrow();
    expect(pageQuery({}).limit).toBe(100);
  });
});

describe('read pool', () => {
  it('is only made for SQLite files, reads what the writer committed, and cannot write', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createReadDb, openStore } = await import('../src/store/db.ts');
    expect(createReadDb(':memory:')).toBeUndefined();
    expect(createReadDb('postgres://u@localhost/db')).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'peaqos-read-'));
    const file = join(dir, 'o.sqlite');
    const db = await openStore(file);
    const reader = createReadDb(file)!;
    try {
      await recordAudit(db, { type: 'x', resourceType: 'y', resourceId: 'z', at: new Date().toISOString() });
      expect(Number((await reader('audit_events').count({ n: '*' }))[0]!.n)).toBe(1);
      await expect(reader('audit_events').delete()).rejects.toThrow(/readonly|read-only|query_only/i);
    } finally {
      await reader.destroy();
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
