// The order and payment state machines, as explicit transition tables. Pure: every allowed and every refused
// transition is unit-tested without HTTP or a database. All transitions go through `orderStep`/`paymentStep`.
import { ApiError } from '../../errors.ts';

export type OrderStatus =
  | 'created'
  | 'payment_pending'
  | 'ready'
  | 'executing'
  | 'delivered'
  | 'confirmed'
  | 'disputed'
  | 'cancelled'
  | 'failed'
  | 'handoff';
export type PaymentStatus =
  'not_required' | 'intent_created' | 'held' | 'release_pending' | 'released' | 'frozen' | 'refunded';

export const ORDER_STATUSES: OrderStatus[] = [
  'created',
  'payment_pending',
  'ready',
  'executing',
  'delivered',
  'confirmed',
  'disputed',
  'cancelled',
  'failed',
  'handoff',
];
export const PAYMENT_STATUSES: PaymentStatus[] = [
  'not_required',
  'intent_created',
  'held',
  'release_pending',
  'released',
  'frozen',
  'refunded',
];

export type OrderAction =
  'await-payment' | 'ready' | 'execute' | 'deliver' | 'hand-off' | 'fail' | 'confirm' | 'dispute' | 'cancel';

/**
 * created -> payment_pending -> ready -> executing -> delivered -> confirmed
 * executing -> handoff | failed; delivered | handoff -> confirmed | disputed; before execution -> cancelled.
 * Execution may start before payment unless PEAQOS_REQUIRE_PAYMENT_BEFORE_EXECUTE says otherwise (checked apart).
 */
export const ORDER_TRANSITIONS: Record<OrderAction, { from: OrderStatus[]; to: OrderStatus }> = {
  'await-payment': { from: ['created'], to: 'payment_pending' },
  ready: { from: ['created', 'payment_pending'], to: 'ready' },
  execute: { from: ['created', 'payment_pending', 'ready'], to: 'executing' },
  deliver: { from: ['executing'], to: 'delivered' },
  'hand-off': { from: ['executing'], to: 'handoff' },
  fail: { from: ['executing'], to: 'failed' },
  confirm: { from: ['delivered', 'handoff'], to: 'confirmed' },
  dispute: { from: ['ready', 'executing', 'delivered', 'handoff'], to: 'disputed' },
  cancel: { from: ['created', 'payment_pending', 'ready'], to: 'cancelled' },
};

/** Closed orders refuse every further order step with ORDER_CLOSED (payments can still settle). */
export const CLOSED_ORDER_STATUSES: OrderStatus[] = ['confirmed', 'disputed', 'cancelled', 'failed'];
/** Open orders block archiving their machine and revoking their pairing (OPEN_MARKET_ORDERS). */
export const OPEN_ORDER_STATUSES: OrderStatus[] = [
  'created',
  'payment_pending',
  'ready',
  'executing',
  'delivered',
  'handoff',
];

export function orderStep(from: OrderStatus, action: OrderAction): OrderStatus {
  const t = ORDER_TRANSITIONS[action];
  if (t.from.includes(from)) return t.to;
  if (CLOSED_ORDER_STATUSES.includes(from))
    throw new ApiError('ORDER_CLOSED', `The order is ${from}; it accepts no further steps.`);
  if (action === 'confirm' || action === 'dispute')
    throw new ApiError('ORDER_NOT_DELIVERED', `The order is ${from}: it has not been delivered yet.`);
  throw new ApiError('ORDER_CLOSED', `The order is ${from}; it can no longer ${action}.`);
}

export type PaymentAction = 'hold' | 'await-release' | 'release' | 'freeze' | 'refund';

/**
 * intent_created -> held -> release_pending -> released; held | release_pending -> frozen (dispute);
 * held | release_pending | frozen -> refunded; frozen -> released (dispute settled for the provider).
 * not_required has no transitions.
 */
export const PAYMENT_TRANSITIONS: Record<PaymentAction, { from: PaymentStatus[]; to: PaymentStatus }> = {
  hold: { from: ['intent_created'], to: 'held' },
  'await-release': { from: ['held'], to: 'release_pending' },
  release: { from: ['release_pending', 'frozen'], to: 'released' },
  freeze: { from: ['held', 'release_pending'], to: 'frozen' },
  refund: { from: ['held', 'release_pending', 'frozen'], to: 'refunded' },
};

export const SETTLED_PAYMENT_STATUSES: PaymentStatus[] = ['released', 'refunded', 'not_required'];

export function paymentStep(from: PaymentStatus, action: PaymentAction): PaymentStatus {
  const t = PAYMENT_TRANSITIONS[action];
  if (t.from.includes(from)) return t.to;
  if (SETTLED_PAYMENT_STATUSES.includes(from))
    throw new ApiError('ORDER_CLOSED', `The payment is ${from}; there is nothing left to ${action}.`);
  if (action === 'release')
    throw new ApiError(
      'ORDER_NOT_DELIVERED',
      `The payment is ${from}: funds are released only after the order is confirmed (release_pending).`,
    );
  throw new ApiError('VALIDATION_ERROR', `A ${from} payment cannot ${action}.`);
}

/** Payment states in which money is committed to the order: they count against the daily limit and block cancel. */
export const MONEY_COMMITTED: PaymentStatus[] = ['held', 'release_pending', 'released', 'frozen'];

/** Payment states that let execution start when PEAQOS_REQUIRE_PAYMENT_BEFORE_EXECUTE=true. */
export const PAID_FOR_EXECUTION: PaymentStatus[] = ['held', 'release_pending', 'released', 'not_required'];
