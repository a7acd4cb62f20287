// The kit's HTTP client: records every exchange so a failure can name the request sent and what came back.
export interface Exchange {
  method: string;
  path: string;
  requestHeaders: Record<string, string>;
  requestBody?: unknown;
  status: number;
  contentType: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  rawBody: string;
  ms: number;
}

export class KitHttp {
  readonly exchanges: Exchange[] = [];
  constructor(
    readonly baseUrl: string,
    private readonly apiKey?: string,
    private readonly timeoutMs = 15_000,
  ) {}

  async send(method: string, path: string, opts: { body?: unknown; raw?: string; bytes?: Uint8Array<ArrayBuffer>; headers?: Record<string, string>; apiKey?: string | null } = {}): Promise<Exchange> {
    const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
    const key = opts.apiKey === undefined ? this.apiKey : opts.apiKey;
    if (key) headers['x-api-key'] = key;
    let payload: string | undefined = opts.raw;
    if (opts.body !== undefined && payload === undefined) {
      payload = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    } else if (payload !== undefined || opts.bytes) headers['content-type'] ??= 'application/json';
    const started = performance.now();
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: opts.bytes ? new Blob([opts.bytes]) : payload, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const ex: Exchange = { method, path, requestHeaders: redact(headers), requestBody: opts.body, status: 0, contentType: null, body: undefined, rawBody: `network error: ${(err as Error).message}`, ms: performance.now() - started };
      this.exchanges.push(ex);
      return ex;
    }
    const rawBody = await res.text();
    let body: unknown = undefined;
    if (rawBody) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = rawBody;
      }
    }
    const ex: Exchange = { method, path, requestHeaders: redact(headers), requestBody: opts.body, status: res.status, contentType: res.headers.get('content-type'), body, rawBody, ms: performance.now() - started };
    this.exchanges.push(ex);
    return ex;
  }
}

function redact(h: Record<string, string>): Record<string, string> {
  const out = { ...h };
  for (const k of ['x-api-key', 'x-agent-pairing-token', 'authorization']) if (out[k]) out[k] = `${out[k]!.slice(0, 6)}…`;
  return out;
}
