// Reads a list operation's limit (1..500, default 100) and cursor from its validated query.
import { DEFAULT_LIMIT, MAX_LIMIT, decodeCursor, type PageQuery } from '../store/pages.ts';
import { validationError } from '../errors.ts';

/** Reads limit/cursor from an (already schema-validated) query. */
export function pageQuery(query: Record<string, unknown>): PageQuery {
  const rawLimit = query.limit;
  let limit = DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    const s = String(rawLimit);
    if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > MAX_LIMIT) {
      throw validationError('limit must be an integer from 1 to 500.', [
        { location: 'query', path: '/limit', rule: 'range', message: 'must be an integer from 1 to 500' },
      ]);
    }
    limit = Number(s);
  }
  const rawCursor = query.cursor;
  return { limit, cursor: rawCursor === undefined ? undefined : decodeCursor(String(rawCursor)) };
}
