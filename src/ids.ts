import { randomBytes } from 'node:crypto';

let seq = 0;

// Ids sort by creation time (12 hex digits of milliseconds), then by a per-process counter, then 5 random bytes.
// Keyset pagination over (createdAt, id) therefore follows insertion order, even for rows written within the
// same millisecond (or under a test clock that stands still).
export function newId(prefix: string, now: number = Date.now()): string {
  seq = (seq + 1) % 0x1000000;
  return `${prefix}_${now.toString(16).padStart(12, '0')}${seq.toString(16).padStart(6, '0')}${randomBytes(5).toString('hex')}`;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
