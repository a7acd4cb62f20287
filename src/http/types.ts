import type { IncomingHttpHeaders } from 'node:http';
import type { Awaitable } from '../awaitable.ts';
import type { Logger } from 'pino';
import type { Caller } from '../auth/caller.ts';
import type { OperationId, OperationTypes } from '../contract/operation-types.gen.ts';

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

/** What every handler sees besides its operation's parameters: who calls, the request id, a logger. */
export interface RequestContext {
  operationId: string;
  headers: Record<string, string | string[] | undefined>;
  requestId: string;
  log: Logger;
  /** The authenticated caller: role from the API key, the pairing token to check. */
  caller: Caller;
}

type Data<Id extends OperationId> = OperationTypes[Id]['data'];
/** The operation's path parameters, as openapi.yaml names them (none: an empty object). */
export type PathOf<Id extends OperationId> = Data<Id> extends { path: infer P } ? P : Record<string, never>;
/** The operation's query parameters, converted to their schema types (undeclared ones never reach a handler). */
export type QueryOf<Id extends OperationId> = [NonNullable<Data<Id>['query']>] extends [never]
  ? Record<string, never>
  : NonNullable<Data<Id>['query']>;
/** The operation's request body, validated against its schema (undefined when none was sent or none is taken). */
export type BodyOf<Id extends OperationId> = Data<Id>['body'];

/** The validated request of one operation, typed from openapi.yaml. */
export interface OperationContext<Id extends OperationId> extends RequestContext {
  operationId: Id;
  params: PathOf<Id>;
  query: QueryOf<Id>;
  body: BodyOf<Id>;
}

type Answers<Id extends OperationId> = OperationTypes[Id]['responses'] & OperationTypes[Id]['errors'];
/** One documented answer of the operation: a status it documents with that status's body (none for 204). */
export type ResultOf<Id extends OperationId> = {
  [S in keyof Answers<Id>]: [Answers<Id>[S]] extends [void]
    ? { status: S; body?: undefined; headers?: Record<string, string> }
    : { status: S; body: Answers<Id>[S]; headers?: Record<string, string> };
}[keyof Answers<Id>];

export interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** An operation's handler: its answer now, or a promise of it (awaitable.ts); its errors thrown or rejected. */
export type OperationHandler<Id extends OperationId> = (ctx: OperationContext<Id>) => Awaitable<ResultOf<Id>>;
/** Handlers by operationId: what a module contributes (any subset of the contract's operations). */
export type HandlerMap = { [Id in OperationId]?: OperationHandler<Id> };
/** Every operation of the contract with its handler: what the server runs (a missing one fails typecheck). */
export type Handlers = { [Id in OperationId]: OperationHandler<Id> };

export const ok = <B>(body: B) => ({ status: 200 as const, body });
export const created = <B>(body: B) => ({ status: 201 as const, body });
export const noContent = () => ({ status: 204 as const });

export function header(ctx: RequestContext, name: string): string | undefined {
  const v = ctx.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** The token of an `Authorization: Bearer <token>` header, if the request has one. */
export function bearerToken(ctx: RequestContext): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(header(ctx, 'authorization') ?? '')?.[1];
}
