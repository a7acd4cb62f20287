// Writing responses on node:http: JSON with an explicit length, and the error envelope.
import type { ServerResponse } from 'node:http';
import type { ApiError } from './errors.ts';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.headersSent) return;
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
  sendJson(res, err.status, err.toBody(), headers);
}
