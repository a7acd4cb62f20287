// Writing responses on node:http: JSON with an explicit length, the error envelope, and the request id.
//
// What the API keeps of a request while it answers it is one object (an Exchange) on the response, under one
// symbol: the request id, the idempotency layer's capture, and what to report once the answer is written. The
// x-request-id header is not set when a request comes in: sendJson writes it with the rest of the head in one
// writeHead call, which spares node:http its per-response header map. Every answer written any other way calls
// stampRequestId first.
import type { ServerResponse } from 'node:http';
import type { ApiError } from '../errors.ts';

const EXCHANGE = Symbol('peaqos.exchange');

/** The API's state of one response (see the top of this file). */
export interface Exchange {
  /** The request id the answer carries. */
  readonly id?: string;
  /** Set by the idempotency layer: every JSON answer sent is handed to it as well. */
  capture?: ((status: number, body: unknown) => void) | undefined;
  /** Called once sendJson has written an answer (metrics, the access line). */
  sent?(status: number): void;
}
type Tagged = ServerResponse & { [EXCHANGE]?: Exchange };

const JSON_TYPE = 'application/json; charset=utf-8';

/** Keeps `exchange` on `res`: sendJson writes its id and reports to it. */
export function attachExchange(res: ServerResponse, exchange: Exchange): void {
  (res as Tagged)[EXCHANGE] = exchange;
}

/** Hands every JSON answer sent on `res` to `onSend` as well (the idempotency layer stores it). */
export function captureResponse(res: ServerResponse, onSend: (status: number, body: unknown) => void): void {
  ((res as Tagged)[EXCHANGE] ??= {}).capture = onSend;
}

/** Sets the x-request-id header now: for answers not written by sendJson (docs, metrics, preflights, a host's). */
export function stampRequestId(res: ServerResponse): void {
  const id = (res as Tagged)[EXCHANGE]?.id;
  if (id !== undefined && !res.headersSent) res.setHeader('x-request-id', id);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.headersSent) return;
  const x = (res as Tagged)[EXCHANGE];
  x?.capture?.(status, body);
  const head: string[] = x?.id === undefined ? [] : ['x-request-id', x.id];
  if (headers) for (const k in headers) head.push(k, headers[k]!);
  if (body === undefined || status === 204 || status === 304) {
    res.writeHead(status, head);
    res.end();
  } else {
    const text = JSON.stringify(body);
    head.push('content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(text)));
    res.writeHead(status, head);
    res.end(text);
  }
  x?.sent?.(status);
}

export function sendError(res: ServerResponse, err: ApiError, headers?: Record<string, string>): void {
  sendJson(res, err.status, err.toBody(), headers ?? err.headers);
}
