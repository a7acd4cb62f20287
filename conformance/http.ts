// The kit's HTTP client: records every exchange so a failure can name the request sent and what came back.
export interface Exchange {
  method: string;
  path: string;
  requestHeaders: Record<string, string>;
  requestBody?: unknown;
  status: number;
  contentType: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a target's JSON answer of any shape; checks validate it against openapi.yaml before reading it
  body: any;
  rawBody: string;
  ms: number;
}

/** Why a request got no answer, in words: refused, timed out, unknown host, reset. */
export function networkCause(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? (e.name === 'TimeoutError' ? 'TIMEOUT' : undefined);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED): nothing listens at the target';
    case 'TIMEOUT':
      return `no answer within ${timeoutMs} ms (--timeout-ms)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name does not resolve (${code})`;
    case 'ECONNRESET':
      return 'the connection was reset (ECONNRESET)';
    default:
      return code ? `${code}: ${e.cause?.message ?? e.message}` : (e.cause?.message ?? e.message);
  }
}

/** After this many requests in a row without an answer, the run stops: the target is gone. */
export const NETWORK_FAILURES_TO_STOP = 5;

export class KitHttp {
  readonly exchanges: Exchange[] = [];
  /** Requests in a row that got no answer; the cause of the last. */
  consecutiveFailures = 0;
  lastCause = '';
  constructor(
    readonly baseUrl: string,
    private readonly apiKey?: string,
    readonly timeoutMs = 15_000,
  ) {}

  get unreachable(): boolean {
    return this.consecutiveFailures >= NETWORK_FAILURES_TO_STOP;
  }

  async send(
    method: string,
    path: string,
    opts: {
      body?: unknown;
      raw?: string;
      bytes?: Uint8Array<ArrayBuffer>;
      headers?: Record<string, string>;
      apiKey?: string | null;
    } = {},
  ): Promise<Exchange> {
    const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
    const key = opts.apiKey === undefined ? this.apiKey : opts.apiKey;
    if (key) headers['x-api-key'] = key;
    let payload: string | undefined = opts.raw;
    if (opts.body !== undefined && payload === undefined) {
      payload = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    } else if (payload !== undefined || opts.bytes) headers['content-type'] ??= 'application/json';
    // What a failure report shows of the request body: the JSON sent, or the raw text, or the size of raw bytes.
    const described =
      opts.body !== undefined
        ? opts.body
        : opts.raw !== undefined
          ? opts.raw.length > 300
            ? `${opts.raw.slice(0, 300)}… (${opts.raw.length} characters)`
            : opts.raw
          : opts.bytes
            ? `(${opts.bytes.length} raw bytes)`
            : undefined;
    const started = performance.now();
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: opts.bytes ? new Blob([opts.bytes]) : payload,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      this.consecutiveFailures++;
      this.lastCause = networkCause(err, this.timeoutMs);
      const ex: Exchange = {
        method,
        path,
        requestHeaders: redact(headers),
        requestBody: described,
        status: 0,
        contentType: null,
        body: undefined,
        rawBody: `network error: ${this.lastCause}`,
        ms: performance.now() - started,
      };
      this.exchanges.push(ex);
      return ex;
    }
    this.consecutiveFailures = 0;
    const rawBody = await res.text();
    let body: unknown = undefined;
    if (rawBody) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = rawBody;
      }
    }
    const ex: Exchange = {
      method,
      path,
      requestHeaders: redact(headers),
      requestBody: described,
      status: res.status,
      contentType: res.headers.get('content-type'),
      body,
      rawBody,
      ms: performance.now() - started,
    };
    this.exchanges.push(ex);
    return ex;
  }
}

function redact(h: Record<string, string>): Record<string, string> {
  const out = { ...h };
  for (const k of ['x-api-key', 'x-agent-pairing-token', 'authorization'])
    if (out[k]) out[k] = `${out[k]!.slice(0, 6)}…`;
  return out;
}
