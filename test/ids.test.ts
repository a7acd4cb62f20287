// Ids: time-ordered, unique across refills of the random pool, and of a fixed shape. Request ids: random UUIDs.
import { describe, expect, it } from 'vitest';
import { newId, newRequestId } from '../src/ids.ts';

describe('newId', () => {
  it('is unique and sorts in creation order across many refills of the random pool, even in one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => newId('tst', 1_700_000_000_000)); // 5000 x 5 bytes: six refills
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^tst_[0-9a-f]{12}[0-9a-f]{6}[0-9a-f]{10}$/);
    // The random tails differ: not a repeated slice of the pool.
    expect(new Set(ids.map((id) => id.slice(-10))).size).toBe(ids.length);
  });

  it('orders by the clock first', () => {
    expect(newId('tst', 2) > newId('tst', 1)).toBe(true);
  });
});

describe('newRequestId', () => {
  const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('is a version 4 UUID, unique across many refills of the random pool, and not changed by later ids', () => {
    const first = newRequestId();
    const ids = Array.from({ length: 10_000 }, () => newRequestId()); // 16 bytes each: about 40 refills
    expect(first).toMatch(UUID_V4);
    expect(ids[0]).not.toBe(first);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set([first, ...ids]).size).toBe(ids.length + 1);
  });

  it('has random digits everywhere but the version and variant bits', () => {
    const ids = Array.from({ length: 4000 }, () => newRequestId());
    for (let pos = 0; pos < 36; pos++) {
      const seen = new Set(ids.map((id) => id[pos]));
      if ([8, 13, 18, 23].includes(pos)) expect([...seen]).toEqual(['-']);
      else if (pos === 14) expect([...seen]).toEqual(['4']);
      else if (pos === 19) expect([...seen].sort()).toEqual(['8', '9', 'a', 'b']);
      else expect(seen.size, `position ${pos}`).toBe(16);
    }
  });
});
