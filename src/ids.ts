import { randomBytes } from 'node:crypto';

// Ids sort by creation time (12 hex digits of milliseconds) and then by 8 random bytes, so keyset pagination
// over (createdAt, id) follows insertion order even within one millisecond's worth of random ties.
export function newId(prefix: string, now: number = Date.now()): string {
  return `${prefix}_${now.toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
