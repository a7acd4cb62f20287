// Input that the contract's schemas allow but the store cannot hold faithfully is refused before anything runs:
// - NUL characters (PostgreSQL text cannot store U+0000), in the path, the query or any string of the body;
// - lone UTF-16 surrogates (from \ud800 escapes) and invalid UTF-8, which would be stored as U+FFFD;
// - numbers JSON cannot hold (1e309 parses as Infinity and would be stored as null);
// - JSON nested deeper than MAX_JSON_DEPTH, rejected while reading, before anything recurses over it.
// Each is a 400 VALIDATION_ERROR naming the location and the rule.
import { validationError } from '../errors.ts';

export const MAX_JSON_DEPTH = 64;

const reject = (location: string, path: string, rule: string, message: string) =>
  validationError(`Invalid ${location} ${path}: ${message}.`, [{ location, path, rule, message }]);

/** The deepest nesting of objects and arrays in JSON text, stopping early past `limit`. Strings are skipped. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();

/** Throws for a NUL or a lone surrogate in any string (keys included), or a non-finite number, of a parsed JSON body. */
export function checkJsonStrings(value: unknown, path = ''): void {
  if (typeof value === 'string') {
    if (value.includes('\u0000'))
      throw reject('body', path || '/', 'nul', 'must not contain the NUL character (U+0000)');
    if (!wellFormed(value))
      throw reject('body', path || '/', 'unicode', 'must be well-formed Unicode (no lone surrogates)');
    return;
  }
  if (typeof value === 'number') {
    // 1e309 parses as Infinity, which JSON cannot store back (it would be written as null).
    if (!Number.isFinite(value)) throw reject('body', path || '/', 'number', 'must be a finite number');
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJsonStrings(value[i], `${path}/${i}`);
    return;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('\u0000') || !wellFormed(k))
        throw reject(
          'body',
          `${path}/${k.replace(/[\u0000-\u001f]/g, '?') /* eslint-disable-line no-control-regex -- control characters are what this replaces */}`,
          'key',
          'property names must be well-formed text without NUL',
        );
      checkJsonStrings(v, `${path}/${k}`);
    }
  }
}

/** Throws for %00 anywhere in the URL, and for percent-encoding in the query that is not valid UTF-8. */
export function checkUrl(path: string, rawQuery: string | undefined): void {
  if (/%00/i.test(path)) throw reject('path', path, 'nul', 'must not contain the NUL character (%00)');
  if (rawQuery === undefined) return;
  if (/%00/i.test(rawQuery)) throw reject('query', '/', 'nul', 'must not contain the NUL character (%00)');
  if (!rawQuery.includes('%')) return;
  try {
    decodeURIComponent(rawQuery.replace(/\+/g, ' '));
  } catch {
    throw reject('query', '/', 'encoding', 'malformed percent-encoding or invalid UTF-8');
  }
}
