import pino, { type Logger } from 'pino';

// Secrets that may travel in headers or bodies are censored before a line is written.
export const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers["x-agent-pairing-token"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-payment"]',
  'req.headers["payment-signature"]',
  '*.providerCredentials',
  '*.agentToken',
  '*.authToken',
  '*.pairingToken',
  '*.signature',
  '*.secret',
];

/**
 * Lines go to `destination`, by default standard output through a LogBuffer: access lines are held and written in
 * batches, every other line is written at once (with the access lines before it, so the order stays). A write per
 * access line cost more than the rest of the line's work (bench/RESULTS.md).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, base: { service: 'peaqos-orchestrator' } },
    destination ??
      (level === 'silent'
        ? undefined
        : new LogBuffer(pino.destination({ dest: 1, sync: false, contentMode: 'buffer' }), { buffers: true })),
  );
}

/** LogBuffers holding lines: at exit these are written, and their destinations flushed synchronously. */
const holding = new Set<LogBuffer>();
process.once('exit', () => {
  for (const b of [...holding]) b.flushSync();
});

/**
 * A log destination that holds the access lines (hold) until HOLD_BYTES of them wait or HOLD_MS passed, and then
 * writes them in one write; a line written the usual way (write, pino's lines) is written at once, after the held
 * ones. Underneath, sonic-boom writes asynchronously: a write is handed to libuv's thread pool, and lines written
 * while one is in flight go out together in the next. Each hand-over wakes a thread; a hand-over per access line
 * (and sonic-boom measuring its pending buffer on every write) cost about 3 µs a request. What is held or
 * pending is written synchronously when the process exits; a process killed with SIGKILL loses it (at most
 * HOLD_MS of access lines, or HOLD_BYTES).
 *
 * With `buffers`, what is written is one Buffer per write, for a sonic-boom in its buffer mode: in its text mode,
 * sonic-boom measures the UTF-8 length of each write and of the text pending before it, appends by string
 * concatenation, and has the text encoded again when it writes; that was about half of an access line's cost.
 */
export class LogBuffer {
  static readonly HOLD_BYTES = 32 * 1024;
  static readonly HOLD_MS = 100;
  private parts: string[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly buffers: boolean;

  constructor(
    private readonly out: pino.DestinationStream & { flushSync?: () => void; flush?: (cb?: () => void) => void },
    opts: { buffers?: boolean } = {},
  ) {
    this.buffers = opts.buffers ?? false;
  }

  /** A line to write now (with any held lines before it). */
  write(line: string): boolean {
    this.parts.push(line);
    this.release();
    return true;
  }

  /** A line that may wait (an access line). */
  hold(line: string): void {
    this.parts.push(line);
    this.size += line.length;
    if (this.size >= LogBuffer.HOLD_BYTES) this.release();
    else if (!this.timer) {
      holding.add(this);
      this.timer = setTimeout(() => this.release(), LogBuffer.HOLD_MS);
      this.timer.unref();
    }
  }

  /** Hands what is held to the destination. */
  release(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      holding.delete(this);
    }
    if (this.parts.length === 0) return;
    const text = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    this.parts = [];
    this.size = 0;
    this.out.write(this.buffers ? (Buffer.from(text) as unknown as string) : text);
  }

  /** pino's logger.flush(): what is held and pending, written. */
  flush(cb?: (err?: Error) => void): void {
    this.release();
    if (this.out.flush) this.out.flush(cb);
    else cb?.();
  }

  /** Writes what is held and pending now (at exit). */
  flushSync(): void {
    this.release();
    try {
      this.out.flushSync?.();
    } catch {
      // the destination cannot write synchronously now (not open yet): nothing more can be done
    }
  }
}

/** Writes the one line per request: request id, method, URL, status, time. */
export type AccessLog = (id: string, method: string, url: string, status: number, ms: number) => void;

/** Characters a JSON string must escape (a URL without any is written as it is, without JSON.stringify). */
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/; // eslint-disable-line no-control-regex -- control characters are what JSON escapes

/** The JSON of the usual methods; any other method is escaped when its line is built. */
const METHOD_JSON = new Map(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((m) => [m, `"${m}"`]));

/**
 * The one line per request, in the same form, level, base fields and destination as `logger`'s lines: info below
 * 400, warn below 500 ("request completed"), error from 500 ("request errored"). The line is built here as text
 * and handed to the logger's destination: it holds only fields the server makes (the request id is a UUID or
 * matched [A-Za-z0-9._-]{1,128}; method and URL are escaped), so pino's generic serialisation and redaction pass
 * have nothing to do, and they were most of the logging cost per request (bench/RESULTS.md). On a LogBuffer the
 * line is held (see there). Undefined when the logger is below error (nothing to write).
 */
export function accessLog(logger: Logger): AccessLog | undefined {
  if (!logger.isLevelEnabled('error')) return undefined;
  const stream = (logger as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]!;
  const info = logger.isLevelEnabled('info');
  const warn = logger.isLevelEnabled('warn');
  // A destination that routes by each line's metadata (pino.multistream) gets its lines through pino.
  if ((stream as unknown as Record<symbol, unknown>)[pino.symbols.needsMetadataGsym]) {
    const via = pino({ level: logger.level, base: { service: 'peaqos-orchestrator' } }, stream);
    return (id, method, url, status, ms) => {
      const line = { req: { id, method, url }, res: { statusCode: status }, responseTime: Math.round(ms) };
      if (status >= 500) via.error(line, 'request errored');
      else if (status >= 400) via.warn(line, 'request completed');
      else via.info(line, 'request completed');
    };
  }
  const put: (line: string) => void =
    stream instanceof LogBuffer ? (line) => stream.hold(line) : (line) => void stream.write(line);
  // The time as text, made again only when the millisecond changes (number-to-text of a timestamp is not free).
  let now = 0;
  let nowText = '0';
  return (id, method, url, status, ms) => {
    let head: string;
    if (status >= 500) head = '{"level":50,"time":';
    else if (status >= 400 ? warn : info) head = status >= 400 ? '{"level":40,"time":' : '{"level":30,"time":';
    else return;
    const t = Date.now();
    if (t !== now) nowText = String((now = t));
    put(
      `${head}${nowText},"service":"peaqos-orchestrator","req":{"id":"${id}","method":${METHOD_JSON.get(method) ?? JSON.stringify(method)},"url":${JSON_ESCAPED.test(url) ? JSON.stringify(url) : `"${url}"`}},"res":{"statusCode":${status}},"responseTime":${Math.round(ms)},"msg":"${status >= 500 ? 'request errored' : 'request completed'}"}\n`,
    );
  };
}

/**
 * What of an error goes into a log line: its type, code and message, nothing else. Database errors carry the
 * statement's context in other fields (PostgreSQL's `detail` quotes key values, drivers keep parameters), and the
 * knex handles are set up to put placeholders, not bound values, in the message (compileSqlOnError: false).
 */
export function errorForLog(err: unknown): { type: string; code?: string; message: string; stack?: string } {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err).slice(0, 500) };
  const code = (err as { code?: unknown }).code;
  return {
    type: err.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: err.message.slice(0, 2000),
    // The stack repeats the message on its first line; keep only the frames.
    ...(err.stack ? { stack: err.stack.split('\n').slice(1, 12).join('\n') } : {}),
  };
}

/** Field and header names whose values are secrets: what a log line shows of them is [REDACTED]. */
const SECRET_NAME =
  /token|secret|password|passphrase|signature|credential|authorization|cookie|api[-_]?key|private|payment-?headers|^x-payment$|mnemonic/i;

/**
 * A copy of `value` fit for a log line: values under secret-looking names are replaced, at any depth (pino's
 * redact paths reach fixed depths only; bodies nest secrets anywhere, e.g. endpoints[].authToken).
 */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (depth > 20) return '[TOO DEEP]';
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_NAME.test(k) ? '[REDACTED]' : redactDeep(v, depth + 1);
    return out;
  }
  return value;
}
