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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, base: { service: 'peaqos-orchestrator' } },
    destination,
  );
}

/**
 * The logger for the one line per request (request id, method, URL, status, time): the same level, base fields and
 * destination as `logger`, without the redaction pass. That line holds no header or body, only fields the server
 * builds, so there is nothing to censor, and pino's redaction (a copy of each line, walked for every wildcard
 * path) was the largest share of the logging cost per request.
 */
export function accessLogger(logger: Logger): Logger {
  const stream = (logger as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
  return pino({ level: logger.level, base: { service: 'peaqos-orchestrator' } }, stream);
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
