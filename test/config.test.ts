import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

const SECRET = 'x'.repeat(32);

describe('config', () => {
  it('applies every documented default', () => {
    const c = loadConfig({}, { generateSecret: () => SECRET });
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      databaseUrl: './data/orchestrator.sqlite',
      requireApiAuth: false,
      requireAgentPairingAuth: true,
      machineIdentityVerification: 'required',
      agentPairingVerification: 'required',
      agentPairingChallengeTtlMs: 600_000,
      agentPairingSessionTtlMs: 3_600_000,
      requireMarketQuotes: false,
      enforceServicePaymentRails: false,
      requirePaymentBeforeExecute: false,
      requirePaymentRpcVerification: false,
      paymentRpcUrl: null,
      usdtContract: null,
      usdtDecimals: 6,
      mcrApiUrl: 'https://mcr.peaq.xyz',
      logLevel: 'info',
    });
    expect(c.agentPairingSessionSecretGenerated).toBe(true);
  });

  it('reads every variable', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      PEAQOS_DATABASE_URL: 'postgres://u@localhost/db',
      PEAQOS_REQUIRE_API_AUTH: 'true',
      PEAQOS_API_KEY: 'k1',
      PEAQOS_API_KEYS: 'k2, k3',
      PEAQOS_REQUIRE_AGENT_PAIRING_AUTH: 'false',
      PEAQOS_MACHINE_IDENTITY_VERIFICATION: 'optional',
      PEAQOS_AGENT_PAIRING_VERIFICATION: 'disabled',
      PEAQOS_AGENT_PAIRING_SESSION_SECRET: SECRET,
      PEAQOS_AGENT_PAIRING_CHALLENGE_TTL_MS: '1000',
      PEAQOS_AGENT_PAIRING_SESSION_TTL_MS: '2000',
      PEAQOS_REQUIRE_MARKET_QUOTES: 'true',
      PEAQOS_ENFORCE_SERVICE_PAYMENT_RAILS: 'true',
      PEAQOS_REQUIRE_PAYMENT_BEFORE_EXECUTE: 'true',
      PEAQOS_REQUIRE_PAYMENT_RPC_VERIFICATION: 'true',
      PEAQOS_EVM_RPC_URL: 'http://127.0.0.1:8545',
      PEAQOS_USDT_CONTRACT: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
      PEAQOS_USDT_DECIMALS: '18',
      PEAQOS_MCR_API_URL: 'http://127.0.0.1:8000/',
      PEAQOS_MCR_CACHE_TTL_MS: '0',
      LOG_LEVEL: 'debug',
    });
    expect(c.apiKeys).toEqual(['k1', 'k2', 'k3']);
    expect(c.paymentRpcUrl).toBe('http://127.0.0.1:8545');
    expect(c.mcrApiUrl).toBe('http://127.0.0.1:8000');
    expect(c.mcrCacheTtlMs).toBe(0);
    expect(c.usdtDecimals).toBe(18);
    expect(c.agentPairingVerification).toBe('disabled');
    expect(c.agentPairingSessionSecretGenerated).toBe(false);
  });

  it('prefers PEAQOS_PAYMENT_RPC_URL, then PEAQ_EVM_RPC_URL, then PEAQOS_EVM_RPC_URL', () => {
    const base = { PEAQOS_AGENT_PAIRING_SESSION_SECRET: SECRET };
    expect(
      loadConfig({
        ...base,
        PEAQOS_PAYMENT_RPC_URL: 'http://a',
        PEAQ_EVM_RPC_URL: 'http://b',
        PEAQOS_EVM_RPC_URL: 'http://c',
      }).paymentRpcUrl,
    ).toBe('http://a');
    expect(loadConfig({ ...base, PEAQ_EVM_RPC_URL: 'http://b', PEAQOS_EVM_RPC_URL: 'http://c' }).paymentRpcUrl).toBe(
      'http://b',
    );
    expect(loadConfig({ ...base, PEAQOS_EVM_RPC_URL: 'http://c' }).paymentRpcUrl).toBe('http://c');
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['PEAQOS_REQUIRE_API_AUTH', 'maybe'],
    ['PEAQOS_MACHINE_IDENTITY_VERIFICATION', 'sometimes'],
    ['PEAQOS_AGENT_PAIRING_VERIFICATION', 'strict'],
    ['PEAQOS_AGENT_PAIRING_CHALLENGE_TTL_MS', '-5'],
    ['PEAQOS_USDT_DECIMALS', '6.5'],
    ['PEAQOS_USDT_CONTRACT', '0x123'],
    ['PEAQOS_MCR_API_URL', 'ftp://mcr'],
    ['PEAQOS_PAYMENT_RPC_URL', 'not a url'],
    ['PEAQOS_DATABASE_URL', 'mysql://localhost/db'],
    ['LOG_LEVEL', 'loud'],
  ])('refuses %s=%s and names the variable', (name, value) => {
    expect(() => loadConfig({ PEAQOS_AGENT_PAIRING_SESSION_SECRET: SECRET, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ PEAQOS_AGENT_PAIRING_SESSION_SECRET: SECRET, [name]: value })).toThrow(
      new RegExp(`^${name}:`),
    );
  });

  it('refuses API auth without a key', () => {
    expect(() => loadConfig({ PEAQOS_AGENT_PAIRING_SESSION_SECRET: SECRET, PEAQOS_REQUIRE_API_AUTH: 'true' })).toThrow(
      /PEAQOS_REQUIRE_API_AUTH/,
    );
  });

  it('refuses to start in production without a session secret, and any secret under 32 bytes', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/PEAQOS_AGENT_PAIRING_SESSION_SECRET: is required/);
    expect(() => loadConfig({ PEAQOS_AGENT_PAIRING_SESSION_SECRET: 'short' })).toThrow(/at least 32 bytes/);
    expect(
      loadConfig({ NODE_ENV: 'production', PEAQOS_AGENT_PAIRING_SESSION_SECRET: SECRET }).agentPairingSessionSecret,
    ).toBe(SECRET);
  });
});
