import { randomBytes, randomFillSync } from 'node:crypto';

let seq = 0;

// The random part of ids and request ids comes from a pooled buffer refilled 4 KiB at a time: a call into the
// CSPRNG per id cost about 5% of a write request. Tokens (secrets) still take fresh bytes of their own.
const pool = Buffer.alloc(4096);
let offset = pool.length;
/** The offset of `bytes` fresh random bytes in the pool (refilled when fewer are left). */
function take(bytes: number): number {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}
function randomHex(bytes: number): string {
  const at = take(bytes);
  return pool.toString('hex', at, at + bytes);
}

/** Each byte's two hex digits, as the 16-bit little-endian value that writes them in order. */
const HEX_PAIRS = new Uint16Array(256);
const DIGITS = '0123456789abcdef';
for (let b = 0; b < 256; b++) HEX_PAIRS[b] = DIGITS.charCodeAt(b >> 4) | (DIGITS.charCodeAt(b & 15) << 8);
/** A request id as text, rewritten in place for each id; the dashes stay. */
const uuidText = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
const uuidView = new DataView(uuidText.buffer, uuidText.byteOffset, uuidText.length);
/** Where each of the 16 bytes' two hex digits go in uuidText. */
const UUID_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/**
 * A random (version 4) UUID, as crypto.randomUUID makes: 122 bits from the CSPRNG, taken from the same pool as ids.
 * Made here, it is one flat string decoded from bytes. randomUUID joins its text from 20 pieces, and every
 * request's id is then read whole (node:http's check of the response header, the access line), which flattens it
 * first, in V8's runtime: in a timed A/B of GET /health that cost about 10% of its requests per second
 * (bench/RESULTS.md).
 */
export function newRequestId(): string {
  const at = take(16);
  pool[at + 6] = (pool[at + 6]! & 0x0f) | 0x40; // version 4
  pool[at + 8] = (pool[at + 8]! & 0x3f) | 0x80; // the RFC 9562 variant
  for (let i = 0; i < 16; i++) uuidView.setUint16(UUID_AT[i]!, HEX_PAIRS[pool[at + i]!]!, true);
  return uuidText.toString('latin1', 0, 36);
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
