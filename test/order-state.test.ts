// Every allowed and every refused transition of both state machines.
import { describe, expect, it } from 'vitest';
import {
  CLOSED_ORDER_STATUSES,
  ORDER_STATUSES,
  ORDER_TRANSITIONS,
  PAYMENT_STATUSES,
  PAYMENT_TRANSITIONS,
  orderStep,
  paymentStep,
  type OrderAction,
  type PaymentAction,
} from '../src/modules/orders/state.ts';

const orderCases = ORDER_STATUSES.flatMap((from) =>
  (Object.keys(ORDER_TRANSITIONS) as OrderAction[]).map((action) => [from, action] as const),
);
const paymentCases = PAYMENT_STATUSES.flatMap((from) =>
  (Object.keys(PAYMENT_TRANSITIONS) as PaymentAction[]).map((action) => [from, action] as const),
);

const ALLOWED_ORDER: Record<string, string> = {
  'created await-payment': 'payment_pending',
  'created ready': 'ready',
  'payment_pending ready': 'ready',
  'created execute': 'executing',
  'payment_pending execute': 'executing',
  'ready execute': 'executing',
  'executing deliver': 'delivered',
  'executing hand-off': 'handoff',
  'executing fail': 'failed',
  'delivered confirm': 'confirmed',
  'handoff confirm': 'confirmed',
  'ready dispute': 'disputed',
  'executing dispute': 'disputed',
  'delivered dispute': 'disputed',
  'handoff dispute': 'disputed',
  'created cancel': 'cancelled',
  'payment_pending cancel': 'cancelled',
  'ready cancel': 'cancelled',
};

const ALLOWED_PAYMENT: Record<string, string> = {
  'intent_created hold': 'held',
  'held await-release': 'release_pending',
  'release_pending release': 'released',
  'frozen release': 'released',
  'held freeze': 'frozen',
  'release_pending freeze': 'frozen',
  'held refund': 'refunded',
  'release_pending refund': 'refunded',
  'frozen refund': 'refunded',
};

describe('order state machine', () => {
  it.each(orderCases)('%s --%s-->', (from, action) => {
    const expected = ALLOWED_ORDER[`${from} ${action}`];
    if (expected) {
      expect(orderStep(from, action)).toBe(expected);
      return;
    }
    let code: string | undefined;
    try {
      orderStep(from, action);
    } catch (e) {
      code = (e as { code: string }).code;
    }
    if (CLOSED_ORDER_STATUSES.includes(from)) expect(code).toBe('ORDER_CLOSED');
    else if (action === 'confirm' || action === 'dispute') expect(code).toBe('ORDER_NOT_DELIVERED');
    else expect(code).toBe('ORDER_CLOSED');
  });
  it('has exactly the documented transitions', () => {
    const allowed = orderCases.filter(([f, a]) => ORDER_TRANSITIONS[a].from.includes(f)).map(([f, a]) => `${f} ${a}`);
    expect(allowed.sort()).toEqual(Object.keys(ALLOWED_ORDER).sort());
  });
});

describe('payment state machine', () => {
  it.each(paymentCases)('%s --%s-->', (from, action) => {
    const expected = ALLOWED_PAYMENT[`${from} ${action}`];
    if (expected) {
      expect(paymentStep(from, action)).toBe(expected);
      return;
    }
    let code: string | undefined;
    try {
      paymentStep(from, action);
    } catch (e) {
      code = (e as { code: string }).code;
    }
    if (['released', 'refunded', 'not_required'].includes(from)) expect(code).toBe('ORDER_CLOSED');
    else if (action === 'release') expect(code).toBe('ORDER_NOT_DELIVERED');
    else expect(code).toBe('VALIDATION_ERROR');
  });
  it('has exactly the documented transitions', () => {
    const allowed = paymentCases
      .filter(([f, a]) => PAYMENT_TRANSITIONS[a].from.includes(f))
      .map(([f, a]) => `${f} ${a}`);
    expect(allowed.sort()).toEqual(Object.keys(ALLOWED_PAYMENT).sort());
  });
});
