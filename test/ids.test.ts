// Ids: time-ordered, unique across refills of the random pool, and of a fixed shape.
import { describe, expect, it } from 'vitest';
import { newId } from '../src/ids.ts';

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
