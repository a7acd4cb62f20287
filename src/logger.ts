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
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, base: { service: 'peaqos-orchestrator' } }, destination);
}
