import { randomBytes, randomFillSync } from 'node:crypto';

let seq = 0;

// The random part of ids comes from a pooled buffer refilled 4 KiB at a time: a call into the CSPRNG per id cost
// about 5% of a write request. Tokens (secrets) still take fresh bytes of their own.
const pool = Buffer.alloc(4096);
let offset = pool.length;
function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

// Ids sort by creation time (12 hex digits of milliseconds), then by a per-process counter, then 5 random bytes.
// Keyset pagination over (createdAt, id) therefore follows insertion order, even for rows written within the
// same millisecond (or under a test clock that stands still).
export function newId(prefix: string, now: number = Date.now()): string {
  seq = (seq + 1) % 0x1000000;
  return `${prefix}_${now.toString(16).padStart(12, '0')}${seq.toString(16).padStart(6, '0')}${randomHex(5)}`;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
