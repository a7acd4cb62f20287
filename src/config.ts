// Environment -> typed configuration. Every variable of the documented server configuration table, with its
// documented default, plus the variables this project adds (marked "designed" in README.md).
// A bad value stops start-up with a message naming the variable.

export type IdentityVerificationMode = 'required' | 'optional' | 'disabled';

export interface Config {
  nodeEnv: string;
  port: number;
  host: string;
  logLevel: string;
  databaseUrl: string;
  requireApiAuth: boolean;
  apiKeys: string[];
  /** Agent-scoped keys (PEAQOS_AGENT_API_KEYS): admit agent operations only. */
  agentApiKeys: string[];
  requireAgentPairingAuth: boolean;
  machineIdentityVerification: IdentityVerificationMode;
  agentPairingVerification: IdentityVerificationMode;
  agentPairingSessionSecret: string;
  agentPairingSessionSecretGenerated: boolean;
  agentPairingChallengeTtlMs: number;
  agentPairingSessionTtlMs: number;
  machineIdentityChallengeTtlMs: number;
  requireMarketQuotes: boolean;
  enforceServicePaymentRails: boolean;
  requirePaymentBeforeExecute: boolean;
  requirePaymentRpcVerification: boolean;
  paymentRpcUrl: string | null;
  usdtContract: string | null;
  usdtDecimals: number;
  mcrApiUrl: string;
  mcrCacheTtlMs: number;
  mcrTimeoutMs: number;
  catalogDir: string | null;
  marketQuoteTtlMs: number;
  runtimeProbeIntervalMs: number;
  runtimeTimeoutMs: number;
  validateResponses: boolean;
  idempotencyTtlMs: number;
  storeBusyTimeoutMs: number;
  mcrRequestsPerMinute: number;
  rateLimitWritesPerMinute: number;
  rateLimitChallengesPerMinute: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  shutdownTimeoutMs: number;
  corsOrigins: string[];
  serveDocs: boolean;
  metrics: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined) return dflt;
  const lower = v.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  throw new ConfigError(name, `expected true or false, got "${v}"`);
}

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const v = raw(env, name);
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `expected an integer, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, dflt: T, allowed: readonly T[]): T {
  const v = raw(env, name);
  if (v === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(v))
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

function httpUrl(env: Env, name: string, dflt: string | null): string | null {
  const v = raw(env, name);
  if (v === undefined) return dflt;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `expected an http(s) URL, got "${v}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConfigError(name, `expected an http(s) URL, got "${v}"`);
  return v.replace(/\/+$/, '');
}

function databaseUrl(env: Env): string {
  const v = raw(env, 'PEAQOS_DATABASE_URL') ?? './data/orchestrator.sqlite';
  if (/^postgres(ql)?:\/\//.test(v) || v === ':memory:' || /^sqlite:/.test(v) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(v))
    return v;
  throw new ConfigError(
    'PEAQOS_DATABASE_URL',
    `expected a SQLite file path, ":memory:" or a postgres:// URL, got "${v}"`,
  );
}

const MODES = ['required', 'optional', 'disabled'] as const;

export function loadConfig(env: Env = process.env, opts: { generateSecret?: () => string } = {}): Config {
  const nodeEnv = raw(env, 'NODE_ENV') ?? 'development';
  const keys = [raw(env, 'PEAQOS_API_KEY'), ...(raw(env, 'PEAQOS_API_KEYS') ?? '').split(',')]
    .map((k) => k?.trim())
    .filter((k): k is string => !!k);
  const agentKeys = (raw(env, 'PEAQOS_AGENT_API_KEYS') ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const shared = agentKeys.filter((k) => keys.includes(k));
  if (shared.length)
    throw new ConfigError(
      'PEAQOS_AGENT_API_KEYS',
      'holds a key that is also an operator key (PEAQOS_API_KEY / PEAQOS_API_KEYS); agent keys must be their own',
    );
  const requireApiAuth = bool(env, 'PEAQOS_REQUIRE_API_AUTH', false);
  const corsOrigins = (raw(env, 'PEAQOS_CORS_ORIGINS') ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of corsOrigins) {
    if (o === '*') {
      if (requireApiAuth)
        throw new ConfigError(
          'PEAQOS_CORS_ORIGINS',
          "'*' is allowed only with PEAQOS_REQUIRE_API_AUTH=false: list the origins that may use API keys",
        );
      continue;
    }
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new ConfigError(
        'PEAQOS_CORS_ORIGINS',
        `expected comma-separated origins (https://app.example.com) or *, got "${o}"`,
      );
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search || u.hash) {
      throw new ConfigError('PEAQOS_CORS_ORIGINS', `an origin is a scheme, host and port only, got "${o}"`);
    }
  }
  if (requireApiAuth && keys.length === 0) {
    throw new ConfigError(
      'PEAQOS_REQUIRE_API_AUTH',
      'is true but neither PEAQOS_API_KEY nor PEAQOS_API_KEYS holds a key',
    );
  }

  let secret = raw(env, 'PEAQOS_AGENT_PAIRING_SESSION_SECRET');
  let generated = false;
  if (secret === undefined) {
    if (nodeEnv === 'production') {
      throw new ConfigError(
        'PEAQOS_AGENT_PAIRING_SESSION_SECRET',
        'is required when NODE_ENV=production (at least 32 bytes)',
      );
    }
    secret = (opts.generateSecret ?? defaultSecret)();
    generated = true;
  }
  if (Buffer.byteLength(secret, 'utf8') < 32) {
    throw new ConfigError('PEAQOS_AGENT_PAIRING_SESSION_SECRET', 'must be at least 32 bytes long');
  }

  const usdt = raw(env, 'PEAQOS_USDT_CONTRACT') ?? null;
  if (usdt !== null && !/^0x[0-9a-fA-F]{40}$/.test(usdt))
    throw new ConfigError('PEAQOS_USDT_CONTRACT', `expected a 0x-prefixed 20-byte address, got "${usdt}"`);

  const rpc =
    httpUrl(env, 'PEAQOS_PAYMENT_RPC_URL', null) ??
    httpUrl(env, 'PEAQ_EVM_RPC_URL', null) ??
    httpUrl(env, 'PEAQOS_EVM_RPC_URL', null);

  const catalogDir = raw(env, 'PEAQOS_CATALOG_DIR') ?? null;

  return {
    nodeEnv,
    port: int(env, 'PORT', 8080, 0, 65535),
    host: raw(env, 'HOST') ?? '0.0.0.0',
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    databaseUrl: databaseUrl(env),
    requireApiAuth,
    apiKeys: keys,
    agentApiKeys: agentKeys,
    requireAgentPairingAuth: bool(env, 'PEAQOS_REQUIRE_AGENT_PAIRING_AUTH', true),
    machineIdentityVerification: oneOf(env, 'PEAQOS_MACHINE_IDENTITY_VERIFICATION', 'required', MODES),
    agentPairingVerification: oneOf(env, 'PEAQOS_AGENT_PAIRING_VERIFICATION', 'required', MODES),
    agentPairingSessionSecret: secret,
    agentPairingSessionSecretGenerated: generated,
    agentPairingChallengeTtlMs: int(env, 'PEAQOS_AGENT_PAIRING_CHALLENGE_TTL_MS', 600_000, 1_000, 86_400_000),
    agentPairingSessionTtlMs: int(env, 'PEAQOS_AGENT_PAIRING_SESSION_TTL_MS', 3_600_000, 1_000, 30 * 86_400_000),
    machineIdentityChallengeTtlMs: int(env, 'PEAQOS_MACHINE_IDENTITY_CHALLENGE_TTL_MS', 600_000, 1_000, 86_400_000),
    requireMarketQuotes: bool(env, 'PEAQOS_REQUIRE_MARKET_QUOTES', false),
    enforceServicePaymentRails: bool(env, 'PEAQOS_ENFORCE_SERVICE_PAYMENT_RAILS', false),
    requirePaymentBeforeExecute: bool(env, 'PEAQOS_REQUIRE_PAYMENT_BEFORE_EXECUTE', false),
    requirePaymentRpcVerification: bool(env, 'PEAQOS_REQUIRE_PAYMENT_RPC_VERIFICATION', false),
    paymentRpcUrl: rpc,
    usdtContract: usdt,
    usdtDecimals: int(env, 'PEAQOS_USDT_DECIMALS', 6, 0, 36),
    mcrApiUrl: httpUrl(env, 'PEAQOS_MCR_API_URL', 'https://mcr.peaq.xyz') as string,
    mcrCacheTtlMs: int(env, 'PEAQOS_MCR_CACHE_TTL_MS', 30_000, 0, 86_400_000),
    mcrTimeoutMs: int(env, 'PEAQOS_MCR_TIMEOUT_MS', 5_000, 100, 120_000),
    catalogDir,
    marketQuoteTtlMs: int(env, 'PEAQOS_MARKET_QUOTE_TTL_MS', 600_000, 1_000, 86_400_000),
    runtimeProbeIntervalMs: int(env, 'PEAQOS_RUNTIME_PROBE_INTERVAL_MS', 30_000, 0, 86_400_000),
    runtimeTimeoutMs: int(env, 'PEAQOS_RUNTIME_TIMEOUT_MS', 10_000, 100, 600_000),
    validateResponses: bool(env, 'PEAQOS_VALIDATE_RESPONSES', false),
    idempotencyTtlMs: int(env, 'PEAQOS_IDEMPOTENCY_TTL_MS', 86_400_000, 60_000, 30 * 86_400_000),
    storeBusyTimeoutMs: int(env, 'PEAQOS_STORE_BUSY_TIMEOUT_MS', 5_000, 0, 120_000),
    mcrRequestsPerMinute: int(env, 'PEAQOS_MCR_REQUESTS_PER_MINUTE', 90, 0, 100_000),
    rateLimitWritesPerMinute: int(env, 'PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE', 6_000, 0, 100_000_000),
    rateLimitChallengesPerMinute: int(env, 'PEAQOS_RATE_LIMIT_CHALLENGES_PER_MINUTE', 300, 0, 100_000_000),
    headersTimeoutMs: int(env, 'PEAQOS_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    requestTimeoutMs: int(env, 'PEAQOS_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
    keepAliveTimeoutMs: int(env, 'PEAQOS_KEEP_ALIVE_TIMEOUT_MS', 5_000, 100, 600_000),
    maxConnections: int(env, 'PEAQOS_MAX_CONNECTIONS', 1_024, 1, 1_000_000),
    shutdownTimeoutMs: int(env, 'PEAQOS_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    corsOrigins,
    serveDocs: bool(env, 'PEAQOS_SERVE_DOCS', true),
    metrics: bool(env, 'PEAQOS_METRICS', true),
  };
}

function defaultSecret(): string {
  // Only outside production: a fresh random secret per process, so tokens do not survive a restart.
  return crypto.getRandomValues(new Uint8Array(48)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '');
}
