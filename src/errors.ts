// The one table of error codes and their HTTP statuses (openapi.yaml holds its twin under x-peaqos-error-codes;
// a test keeps them equal). Services throw ApiError; the HTTP layer turns it into the error envelope.
// It sits outside http/ so that services, the mock and the kit share it without depending on the HTTP layer.

export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  MACHINE_IDENTITY_PROOF_REQUIRED: 400,
  AGENT_PAIRING_PROOF_REQUIRED: 400,
  PAYMENT_RPC_REQUIRED: 400,
  PAYMENT_TRANSFER_NOT_FOUND: 400,
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  AGENT_AUTH_REQUIRED: 401,
  AGENT_AUTH_INVALID: 401,
  AGENT_AUTH_EXPIRED: 401,
  AGENT_PAIRING_REQUIRED: 401,
  PAYMENT_REQUIRED: 402,
  PAYMENT_TX_FAILED: 402,
  AUTH_FORBIDDEN: 403,
  MACHINE_IDENTITY_PROOF_INVALID: 403,
  AGENT_PAIRING_PROOF_INVALID: 403,
  AGENT_POLICY_DENIED: 403,
  AGENT_SPEND_LIMIT_EXCEEDED: 403,
  AGENT_DAILY_LIMIT_EXCEEDED: 403,
  AGENT_PAIRING_INACTIVE: 403,
  MACHINE_NOT_ACTIVATED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  MACHINE_IDENTITY_EXISTS: 409,
  MACHINE_IDENTITY_IMMUTABLE: 409,
  MACHINE_NOT_ACTIVE: 409,
  OPEN_MARKET_ORDERS: 409,
  ROUTE_REQUIRED: 409,
  ORDER_CLOSED: 409,
  ORDER_NOT_DELIVERED: 409,
  ORDER_PAYMENT_HELD: 409,
  IDEMPOTENCY_KEY_IN_PROGRESS: 409,
  PAYMENT_NOT_MINED: 409,
  MACHINE_IDENTITY_PROOF_EXPIRED: 410,
  AGENT_PAIRING_PROOF_EXPIRED: 410,
  QUOTE_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  PAYMENT_RPC_ERROR: 502,
  RUNTIME_EXECUTION_FAILED: 502,
  PEAQOS_IDENTITY_UNAVAILABLE: 503,
  AGENT_PAIRING_UNAVAILABLE: 503,
  RUNTIME_UNAVAILABLE: 503,
  STORE_BUSY: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Response headers that go with the error (Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = ERROR_STATUS[code];
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export const notFound = (what: string) => new ApiError('NOT_FOUND', `${what} not found.`);
export const validationError = (message: string, details?: unknown) =>
  new ApiError('VALIDATION_ERROR', message, details);
