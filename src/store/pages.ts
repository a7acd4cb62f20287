// Pages: keyset pagination over (created_at, id) in SQL, the same over in-memory lists, and the opaque base64url
// cursor both use. `nextCursor` is omitted on the last page, never null. The HTTP layer reads limit and cursor
// from the query (http/pagination.ts).
import type { Knex } from 'knex';
import { validationError } from '../errors.ts';

export interface PageQuery {
  limit: number;
  cursor?: { t: string; i: string };
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 500;

export function encodeCursor(t: string, i: string): string {
  return Buffer.from(JSON.stringify({ v: 1, t, i }), 'utf8').toString('base64url');
}

function badCursor(): never {
  throw validationError('Malformed cursor: pass nextCursor back exactly as returned.', [
    { location: 'query', path: '/cursor', rule: 'cursor', message: 'is not a cursor issued by this server' },
  ]);
}

export function decodeCursor(raw: string): { t: string; i: string } {
  if (!/^[A-Za-z0-9_-]+$/.test(raw)) badCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    badCursor();
  }
  const p = parsed as { v?: unknown; t?: unknown; i?: unknown };
  if (!p || p.v !== 1 || typeof p.t !== 'string' || typeof p.i !== 'string') badCursor();
  return { t: p.t as string, i: p.i as string };
}

/** Applies keyset pagination to a query over a table with created_at and id columns. */
export async function keysetPage<Row extends { created_at: string; id: string }, T>(
  qb: Knex.QueryBuilder,
  page: PageQuery,
  map: (row: Row) => T,
  prefix = '',
): Promise<Page<T>> {
  const c = `${prefix}created_at`;
  const id = `${prefix}id`;
  if (page.cursor) {
    // A row-value comparison lets both SQLite and PostgreSQL seek the (created_at, id) index directly; the
    // equivalent OR form makes SQLite scan, so deep pages would get slower with the table.
    qb.whereRaw(`(??, ??) > (?, ?)`, [c, id, page.cursor.t, page.cursor.i]);
  }
  const rows = (await qb
    .orderBy(c, 'asc')
    .orderBy(id, 'asc')
    .limit(page.limit + 1)) as Row[];
  const more = rows.length > page.limit;
  const slice = more ? rows.slice(0, page.limit) : rows;
  const last = slice[slice.length - 1];
  return { items: slice.map(map), ...(more && last ? { nextCursor: encodeCursor(last.created_at, last.id) } : {}) };
}

/** Pagination over an in-memory list already sorted by a unique string key. */
export function arrayPage<T>(items: T[], key: (t: T) => string, page: PageQuery): Page<T> {
  let start = 0;
  if (page.cursor) {
    const after = page.cursor.i;
    start = items.findIndex((x) => key(x) > after);
    if (start < 0) start = items.length;
  }
  const slice = items.slice(start, start + page.limit);
  const more = start + page.limit < items.length;
  const last = slice[slice.length - 1];
  return { items: slice, ...(more && last ? { nextCursor: encodeCursor('', key(last)) } : {}) };
}
