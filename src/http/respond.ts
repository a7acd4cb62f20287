// Writing responses on node:http: JSON with an explicit length, the error envelope, and the request id.
//
// The x-request-id header is not set when a request comes in: the id is kept on the response and written with the
// rest of the head in one writeHead call (sendJson), which spares node:http its per-response header map. Every
// answer written any other way calls stampRequestId first.
import type { ServerResponse } from 'node:http';
import type { ApiError } from '../errors.ts';

const CAPTURE = Symbol('peaqos.capture');
const REQUEST_ID = Symbol('peaqos.requestId');
type Tagged = ServerResponse & {
  [CAPTURE]?: (status: number, body: unknown) => void;
  [REQUEST_ID]?: string;
};

const JSON_TYPE = 'application/json; charset=utf-8';

/** Hands every JSON answer sent on `res` to `onSend` as well (the idempotency layer stores it). */
export function captureResponse(res: ServerResponse, onSend: (status: number, body: unknown) => void): void {
  (res as Tagged)[CAPTURE] = onSend;
}

/** The request id `res` answers with (written by sendJson, or by stampRequestId). */
export function tagRequestId(res: ServerResponse, id: string): void {
  (res as Tagged)[REQUEST_ID] = id;
}

/** Sets the x-request-id header now: for answers not written by sendJson (docs, metrics, preflights, a host's). */
export function stampRequestId(res: ServerResponse): void {
  const id = (res as Tagged)[REQUEST_ID];
  if (id !== undefined && !res.headersSent) res.setHeader('x-request-id', id);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.headersSent) return;
  (res as Tagged)[CAPTURE]?.(status, body);
  const id = (res as Tagged)[REQUEST_ID];
  const head: string[] = id === undefined ? [] : ['x-request-id', id];
  if (headers) for (const k in headers) head.push(k, headers[k]!);
  if (body === undefined || status === 204 || status === 304) {
    res.writeHead(status, head);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  head.push('content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(text)));
  res.writeHead(status, head);
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError, headers?: Record<string, string>): void {
  sendJson(res, err.status, err.toBody(), headers ?? err.headers);
}
