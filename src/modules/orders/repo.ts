import type { Knex } from 'knex';
import { statementsOn } from '../../store/prepared.ts';
import { forUpdate } from '../../store/tx.ts';
import { MONEY_COMMITTED, OPEN_ORDER_STATUSES } from './state.ts';
import { fromJson, toJson } from '../../store/db.ts';
import type { MarketOrderRecord, MarketPayment } from '../../../generated/types.gen.ts';

import { fromMicros, toMicros } from './amounts.ts';
export { fromMicros, toMicros };

// The records are the contract's own types (generated from openapi.yaml).
export type OrderRecord = MarketOrderRecord;
export type PaymentRecord = MarketPayment;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a database row as knex returns it; every field is converted below
export const orderFrom = (r: any): OrderRecord => ({
  id: r.id,
  machineId: r.machine_id,
  agentPairingId: r.agent_pairing_id,
  searchId: r.search_id,
  quoteId: r.quote_id,
  serviceId: r.service_id,
  skillKey: r.skill_key,
  providerKey: r.provider_key,
  serviceType: r.service_type,
  operation: r.operation,
  executionMode: r.execution_mode,
  integrationStatus: r.integration_status,
  status: r.status,
  input: fromJson(r.input, {}),
  budget: fromJson(r.budget, null),
  payment: fromJson(r.payment, {} as MarketOrderRecord['payment']),
  serviceSnapshot: fromJson(r.service_snapshot, {}),
  taskId: r.task_id,
  routeId: r.route_id,
  runId: r.run_id,
  outcomeId: r.outcome_id,
  handoff: fromJson(r.handoff, null),
  amount: fromMicros(r.amount_micros),
  currency: r.currency,
  paymentStatus: r.payment_status,
  errorMessage: r.error_message,
  disputeReason: r.dispute_reason,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const orderRow = (o: OrderRecord, utcDay: string) => ({
  id: o.id,
  machine_id: o.machineId,
  agent_pairing_id: o.agentPairingId,
  search_id: o.searchId,
  quote_id: o.quoteId,
  service_id: o.serviceId,
  skill_key: o.skillKey,
  provider_key: o.providerKey,
  service_type: o.serviceType,
  operation: o.operation,
  execution_mode: o.executionMode,
  integration_status: o.integrationStatus,
  status: o.status,
  input: toJson(o.input),
  budget: o.budget ? toJson(o.budget) : null,
  payment: toJson(o.payment),
  service_snapshot: toJson(o.serviceSnapshot),
  task_id: o.taskId,
  route_id: o.routeId,
  run_id: o.runId,
  outcome_id: o.outcomeId,
  handoff: o.handoff ? toJson(o.handoff) : null,
  amount_micros: toMicros(o.amount),
  currency: o.currency,
  payment_status: o.paymentStatus,
  error_message: o.errorMessage,
  dispute_reason: o.disputeReason,
  utc_day: utcDay,
  created_at: o.createdAt,
  updated_at: o.updatedAt,
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a database row as knex returns it; every field is converted below
export const paymentFrom = (r: any): PaymentRecord => ({
  id: r.id,
  orderId: r.order_id,
  machineId: r.machine_id,
  status: r.status,
  rail: r.rail,
  required: !!r.required,
  amount: fromMicros(r.amount_micros),
  currency: r.currency,
  chain: r.chain,
  payerAddress: r.payer_address,
  payeeAddress: r.payee_address,
  tokenAddress: r.token_address,
  txHash: r.tx_hash,
  verificationMode: r.verification_mode,
  verifiedAt: r.verified_at,
  escrowRef: r.escrow_ref,
  challenge: fromJson(r.challenge, null),
  note: r.note,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const paymentRow = (p: PaymentRecord) => ({
  id: p.id,
  order_id: p.orderId,
  machine_id: p.machineId,
  status: p.status,
  rail: p.rail,
  required: p.required,
  amount_micros: toMicros(p.amount),
  currency: p.currency,
  chain: p.chain,
  payer_address: p.payerAddress,
  payee_address: p.payeeAddress,
  token_address: p.tokenAddress,
  tx_hash: p.txHash,
  verification_mode: p.verificationMode,
  verified_at: p.verifiedAt,
  escrow_ref: p.escrowRef,
  challenge: p.challenge ? toJson(p.challenge) : null,
  note: p.note,
  created_at: p.createdAt,
  updated_at: p.updatedAt,
});

/** With `lock`, inside a transaction, the order's row (and so its payment's, written only under it) stays locked. */
export async function findOrder(
  db: Knex | Knex.Transaction,
  id: string,
  lock = false,
): Promise<OrderRecord | undefined> {
  const qb = db('market_orders').where({ id }).first();
  const r = await (lock ? forUpdate(qb) : qb);
  return r && orderFrom(r);
}

export async function saveOrder(db: Knex | Knex.Transaction, o: OrderRecord): Promise<void> {
  const { id, created_at: _c, utc_day: _d, ...rest } = orderRow(o, '');
  void _c;
  void _d;
  await db('market_orders').where({ id }).update(rest);
}

/**
 * What counts against the pairing's daily limit for UTC day `day`, in micro-units: every order of the day
 * except cancelled ones, and a cancelled one too while money is still committed to it (held, release
 * pending, released or frozen). Cancel refuses an order whose payment is held (ORDER_PAYMENT_HELD), so
 * money moves only by refund, which cancels the order and stops counting it.
 */
const SPENT_TODAY = `select sum(amount_micros) from market_orders where agent_pairing_id = ? and utc_day = ? and (status <> 'cancelled' or payment_status in (${MONEY_COMMITTED.map(() => '?').join(', ')}))`;

export async function spentToday(db: Knex | Knex.Transaction, pairingId: string, day: string): Promise<number> {
  const v = await (await statementsOn(db)).one(SPENT_TODAY, [pairingId, day, ...MONEY_COMMITTED]);
  return Number(v?.[0] ?? 0);
}

export async function findPayment(db: Knex | Knex.Transaction, orderId: string): Promise<PaymentRecord | undefined> {
  const r = await db('market_payments').where({ order_id: orderId }).first();
  return r && paymentFrom(r);
}

/** Whether a machine or a pairing has an order still open (open orders block archiving and revoking). */
export async function hasOpenOrders(
  db: Knex | Knex.Transaction,
  where: { machine_id: string } | { agent_pairing_id: string },
): Promise<boolean> {
  return !!(await db('market_orders').where(where).whereIn('status', OPEN_ORDER_STATUSES).first('id'));
}

/** Writes a payment (insert or update) and mirrors its status on the order. */
export async function savePayment(trx: Knex.Transaction, p: PaymentRecord, isNew: boolean): Promise<void> {
  const row = paymentRow(p);
  if (isNew) await trx('market_payments').insert(row);
  else {
    const { id, created_at: _created, ...rest } = row;
    await trx('market_payments').where({ id }).update(rest);
  }
  await trx('market_orders').where({ id: p.orderId }).update({ payment_status: p.status });
}

/** A machine's orders, optionally of one status, for keyset paging. */
export function ordersOf(db: Knex | Knex.Transaction, machineId: string, status?: string) {
  const qb = db('market_orders').where({ machine_id: machineId }).select('*');
  if (status) qb.where({ status });
  return qb;
}

export async function insertOrder(trx: Knex.Transaction, o: OrderRecord, utcDay: string): Promise<void> {
  await (await statementsOn(trx)).insertDeferred('market_orders', orderRow(o, utcDay));
}
