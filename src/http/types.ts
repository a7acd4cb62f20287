import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Caller } from '../auth/caller.ts';

/** What the HTTP layer knows of a request once its body is read: the shape the router and handlers see. */
export interface HttpRequest {
  method: string;
  /** The path without the query string, as sent (not decoded). */
  path: string;
  query: Record<string, string | string[]>;
  headers: IncomingHttpHeaders;
  body: unknown;
  id: string;
  /** A child logger carrying the request id, created on first use. */
  readonly log: Logger;
  /** What the API key made the caller (set by the HTTP layer before routing). */
  keyRole?: 'operator' | 'agent';
  /** The query string as sent (after `?`), for checks that need the raw percent-encoding. */
  rawQuery?: string;
  /** The operation the router matched (metrics label); undefined when none matched. */
  operationId?: string;
}

export interface RequestContext {
  operationId: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
  // The body has been validated against the operation's request schema before a handler sees it.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- validated against the operation's request schema before a handler reads it
  body: any;
  headers: Record<string, string | string[] | undefined>;
  requestId: string;
  log: Logger;
  /** The authenticated caller: role from the API key, the pairing token to check. */
  caller: Caller;
}

export interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type OperationHandler = (ctx: RequestContext) => Promise<HandlerResult>;
export type HandlerMap = Record<string, OperationHandler>;

export const ok = (body: unknown): HandlerResult => ({ status: 200, body });
export const created = (body: unknown): HandlerResult => ({ status: 201, body });
export const noContent = (): HandlerResult => ({ status: 204 });

export function header(ctx: RequestContext, name: string): string | undefined {
  const v = ctx.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
