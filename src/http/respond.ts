// Writing responses on node:http: JSON with an explicit length, and the error envelope.
import type { ServerResponse } from 'node:http';
import type { ApiError } from '../errors.ts';

const CAPTURE = Symbol('peaqos.capture');
type Capturing = ServerResponse & { [CAPTURE]?: (status: number, body: unknown) => void };

/** Hands every JSON answer sent on `res` to `onSend` as well (the idempotency layer stores it). */
export function captureResponse(res: ServerResponse, onSend: (status: number, body: unknown) => void): void {
  (res as Capturing)[CAPTURE] = onSend;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.headersSent) return;
  (res as Capturing)[CAPTURE]?.(status, body);
  if (headers) for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.statusCode = status;
  if (body === undefined || status === 204 || status === 304) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError, headers?: Record<string, string>): void {
  sendJson(res, err.status, err.toBody(), headers ?? err.headers);
}
