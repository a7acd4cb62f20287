// JSON request bodies without a framework: the same rules as express.json({ limit: '1mb', strict: true }) had here.
// A body is read only when the request has one (content-length or transfer-encoding) and its media type is
// application/json or application/*+json; otherwise the body is undefined and the contract decides whether that is
// allowed. gzip, deflate and br bodies are inflated, and the 1 MiB limit applies to the inflated size.
import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import { ApiError } from '../errors.ts';
import { MAX_JSON_DEPTH, checkJsonStrings, jsonDepthExceeds } from './hostile.ts';

export const BODY_LIMIT = 1024 * 1024;

const malformed = () =>
  new ApiError('VALIDATION_ERROR', 'The request body is not valid JSON.', [
    { location: 'body', path: '/', rule: 'json', message: 'malformed JSON' },
  ]);
const tooLarge = () => new ApiError('PAYLOAD_TOO_LARGE', 'The request body exceeds 1 MiB.');

export function hasBody(req: IncomingMessage): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
  );
}

/** application/json and application/*+json, parameters ignored. */
export function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function charsetOf(contentType: string): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return m?.[1]?.toLowerCase();
}

function decoder(req: IncomingMessage): IncomingMessage | Transform {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  switch (encoding) {
    case 'identity':
      return req;
    case 'gzip':
      return req.pipe(createGunzip());
    case 'deflate':
      return req.pipe(createInflate());
    case 'br':
      return req.pipe(createBrotliDecompress());
    default:
      throw new ApiError('VALIDATION_ERROR', `Unsupported content-encoding "${encoding}".`);
  }
}

/**
 * Reads and parses the body. Resolves undefined when there is none to read (see above) or it is empty, and rejects with the error envelope's ApiError for malformed JSON, a non-object top level, an unsupported
 * charset or encoding, or more than 1 MiB.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const contentType = req.headers['content-type'];
  if (!hasBody(req) || !isJsonType(contentType)) return undefined;
  const charset = charsetOf(contentType!);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError('VALIDATION_ERROR', `Unsupported request body charset "${charset}"; send UTF-8.`);
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > BODY_LIMIT) throw tooLarge();

  const stream = decoder(req);
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const fail = (err: ApiError) => {
      stream.removeAllListeners('data');
      if (stream !== req) {
        // Stop inflating (a small compressed body can expand without bound); the raw body is still drained.
        req.unpipe(stream as Transform);
        stream.destroy();
      }
      req.resume();
      reject(err);
    };
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) return fail(tooLarge());
      chunks.push(chunk);
    });
    stream.once('end', resolve);
    // A client that goes away mid-body: nothing to answer, and nothing may wait for an 'end' that never comes.
    req.once('close', () => {
      if (!req.complete) reject(new Error('request aborted before its body was complete'));
    });
    stream.once('error', (err: Error & { code?: string }) =>
      reject(
        err instanceof ApiError
          ? err
          : err.code?.startsWith('Z_')
            ? new ApiError('VALIDATION_ERROR', 'The request body could not be decompressed.')
            : err,
      ),
    );
  });
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (bytes.length === 0) return undefined; // chunked but empty: no body, as with content-length: 0
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ApiError('VALIDATION_ERROR', 'The request body is not valid UTF-8.', [
      { location: 'body', path: '/', rule: 'utf-8', message: 'invalid UTF-8' },
    ]);
  }
  // strict: like express.json, only an object or an array at the top level.
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') throw malformed();
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new ApiError(
      'VALIDATION_ERROR',
      `The request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels.`,
      [{ location: 'body', path: '/', rule: 'depth', message: `nested deeper than ${MAX_JSON_DEPTH} levels` }],
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed();
  }
  checkJsonStrings(value);
  return value;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * A body a host framework already parsed (express.json): the same checks as a body read here, where they can
 * still be made on the value (depth, NUL, lone surrogates, non-finite numbers).
 */
export function checkParsedBody(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') throw malformed();
  if (depthOf(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new ApiError(
      'VALIDATION_ERROR',
      `The request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels.`,
      [{ location: 'body', path: '/', rule: 'depth', message: `nested deeper than ${MAX_JSON_DEPTH} levels` }],
    );
  }
  checkJsonStrings(value);
  return value;
}

function depthOf(v: unknown, limit: number, d = 1): number {
  if (d > limit || v === null || typeof v !== 'object') return d - (v !== null && typeof v === 'object' ? 0 : 1);
  let max = d;
  for (const x of Array.isArray(v) ? v : Object.values(v)) {
    if (x !== null && typeof x === 'object') max = Math.max(max, depthOf(x, limit, d + 1));
    if (max > limit) break;
  }
  return max;
}
