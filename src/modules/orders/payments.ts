// Payments of market orders: intent, proof (recorded, or verified on the chain over RPC), escrow lock, release and
// refund. Every step goes through the payment transition table in state.ts, moves the order where the payment
// decides it, and writes its audit event in the same transaction.
import type { Knex } from 'knex';
import { getAddress, parseUnits } from 'ethers';
import type { Config } from '../../config.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { ApiError, notFound, validationError } from '../../errors.ts';
import { withTransaction } from '../../store/tx.ts';
import { recordAudit } from '../audit/service.ts';
import type { RailType } from '../catalog/catalog.ts';
import { OPERATOR, type Caller } from '../../auth/caller.ts';
import { verifyTransfer } from '../../chain/payment-verifier.ts';
import { emit } from '../../observe.ts';
import type { SubmitMarketPaymentProofRequest } from '../../../generated/types.gen.ts';
import type { OrderAccess } from './access.ts';
import { findOrder, findPayment, savePayment, type OrderRecord, type PaymentRecord } from './repo.ts';
import { CLOSED_ORDER_STATUSES, paymentStep } from './state.ts';

export type ProofInput = SubmitMarketPaymentProofRequest;

const EVM_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const SOLANA_ADDRESS = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;
const isSolana = (chain?: string | null) => !!chain && chain.toLowerCase().startsWith('solana');

function checkAddress(field: string, value: string | undefined, chain: string | null | undefined): string | null {
  if (value === undefined) return null;
  if (isSolana(chain)) {
    if (!SOLANA_ADDRESS.test(value))
      throw validationError(`${field} is not a valid Solana address.`, [
        { location: 'body', path: `/${field}`, rule: 'address', message: 'invalid Solana address' },
      ]);
    return value;
  }
  try {
    if (!EVM_ADDRESS.test(value)) throw new Error('shape');
    return getAddress(value);
  } catch {
    throw validationError(`${field} is not a valid EVM address.`, [
      { location: 'body', path: `/${field}`, rule: 'address', message: 'invalid EVM address' },
    ]);
  }
}

export interface PaymentsServiceDeps {
  db: Knex;
  config: Config;
  clock: Clock;
  access: OrderAccess;
}

export class PaymentsService {
  private readonly db: Knex;
  private readonly config: Config;
  private readonly clock: Clock;
  private readonly access: OrderAccess;

  constructor(deps: PaymentsServiceDeps) {
    ({ db: this.db, config: this.config, clock: this.clock, access: this.access } = deps);
  }

  private now() {
    return this.clock.now();
  }

  async payment(orderId: string, caller: Caller = OPERATOR): Promise<PaymentRecord> {
    const o = await this.access.order(orderId);
    if (caller.role === 'agent') await this.access.agentFor(caller, o);
    const p = await findPayment(this.db, orderId);
    if (!p) throw notFound('Payment (create a payment intent first)');
    return p;
  }

  private newPayment(
    o: OrderRecord,
    rail: RailType,
    body: { payerAddress?: string; payeeAddress?: string; chain?: string },
    at: string,
  ): PaymentRecord {
    const chain = body.chain ?? o.payment.network ?? null;
    const notRequired = rail === 'not-required';
    const payee = checkAddress('payeeAddress', body.payeeAddress, chain) ?? o.payment.payeeAddress ?? null;
    return {
      id: newId('mpy', Date.parse(at)),
      orderId: o.id,
      machineId: o.machineId,
      status: notRequired ? 'not_required' : 'intent_created',
      rail,
      required: !notRequired,
      amount: o.amount,
      currency: o.currency,
      chain,
      payerAddress: checkAddress('payerAddress', body.payerAddress, chain),
      payeeAddress: payee,
      tokenAddress: o.payment.tokenAddress ?? this.config.usdtContract ?? null,
      txHash: null,
      verificationMode: null,
      verifiedAt: null,
      escrowRef: null,
      challenge:
        rail === 'x402'
          ? {
              scheme: 'x402',
              network: chain,
              payTo: payee,
              asset: o.currency,
              maxAmountRequired: o.amount,
              resource: o.payment.network ? `${o.providerKey}:${o.operation}` : o.operation,
              description: `Pay ${o.providerKey} for ${o.operation}`,
            }
          : null,
      note: null,
      createdAt: at,
      updatedAt: at,
    };
  }

  private checkRail(o: OrderRecord, rail: RailType): void {
    if (rail === 'not-required' && o.payment.required) {
      throw validationError(
        `Service ${o.serviceId} requires payment; pick one of ${o.payment.supportedRails.join(', ')}.`,
        [{ location: 'body', path: '/rail', rule: 'rail', message: 'payment is required' }],
      );
    }
    if (this.config.enforceServicePaymentRails && !o.payment.supportedRails.includes(rail)) {
      throw validationError(
        `Rail ${rail} is not supported by service ${o.serviceId} (supported: ${o.payment.supportedRails.join(', ')}).`,
        [{ location: 'body', path: '/rail', rule: 'supportedRails', message: 'not in the service supportedRails' }],
      );
    }
  }

  async paymentIntent(
    caller: Caller,
    orderId: string,
    body: { rail?: RailType; payerAddress?: string; payeeAddress?: string; chain?: string },
  ): Promise<{ created: boolean; payment: PaymentRecord }> {
    await this.access.ownOrder(caller, orderId);
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      const existing = await findPayment(trx, orderId);
      if (existing) return { created: false, payment: existing };
      if (CLOSED_ORDER_STATUSES.includes(o.status)) throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      const rail = body.rail ?? o.payment.defaultRail;
      this.checkRail(o, rail);
      const p = this.newPayment(o, rail, body, at);
      await savePayment(trx, p, true);
      if (o.status === 'created')
        await this.access.step(
          trx,
          { ...o, paymentStatus: p.status },
          p.status === 'not_required' ? 'ready' : 'await-payment',
          at,
        );
      await recordAudit(trx, {
        type: 'market.payment.intent-created',
        resourceType: 'market-payment',
        resourceId: p.id,
        payload: { orderId, rail, status: p.status, amount: p.amount, currency: p.currency },
        at,
      });
      return { created: true, payment: p };
    });
  }

  async paymentProof(caller: Caller, orderId: string, body: ProofInput): Promise<PaymentRecord> {
    const o0 = await this.access.ownOrder(caller, orderId);
    if (CLOSED_ORDER_STATUSES.includes(o0.status)) throw new ApiError('ORDER_CLOSED', `The order is ${o0.status}.`);
    const existing = await findPayment(this.db, orderId);
    const chain = body.chain ?? existing?.chain ?? o0.payment.network ?? 'evm';
    const solana = isSolana(chain);
    const mode: 'recorded' | 'rpc' = solana
      ? 'recorded'
      : this.config.requirePaymentRpcVerification
        ? 'rpc'
        : (body.verificationMode ?? 'recorded');
    const payer = checkAddress('payerAddress', body.payerAddress, chain) ?? existing?.payerAddress ?? null;
    const payee =
      checkAddress('payeeAddress', body.payeeAddress, chain) ??
      existing?.payeeAddress ??
      o0.payment.payeeAddress ??
      null;
    const token =
      checkAddress('tokenAddress', body.tokenAddress, chain) ??
      existing?.tokenAddress ??
      o0.payment.tokenAddress ??
      this.config.usdtContract ??
      null;
    const amount = body.amount ?? o0.amount;
    if (!solana && !/^0x[0-9a-fA-F]{64}$/.test(body.txHash))
      throw validationError('txHash must be a 32-byte 0x-prefixed hash for EVM payments.', [
        { location: 'body', path: '/txHash', rule: 'pattern', message: 'not an EVM transaction hash' },
      ]);
    if (existing && !['intent_created', 'held'].includes(existing.status)) {
      if (existing.status === 'not_required') throw validationError('This order needs no payment.');
      throw new ApiError('ORDER_CLOSED', `The payment is ${existing.status}.`);
    }
    if (existing?.status === 'held') {
      if (existing.txHash === body.txHash) return existing;
      throw validationError('The payment is already held with another transaction.');
    }
    let verifiedAt: string | null = null;
    if (mode === 'rpc') {
      const rpc = this.config.paymentRpcUrl;
      if (!rpc)
        throw new ApiError(
          'PAYMENT_RPC_REQUIRED',
          'RPC verification needs PEAQOS_PAYMENT_RPC_URL (or PEAQ_EVM_RPC_URL / PEAQOS_EVM_RPC_URL) on this server.',
        );
      if (!token || !payee || amount === null) {
        throw validationError(
          'RPC verification needs the token, the payee and the amount (from the body, the intent or the service).',
          [
            {
              location: 'body',
              path: '/',
              rule: 'rpc-inputs',
              message: 'tokenAddress, payeeAddress and amount are needed',
            },
          ],
        );
      }
      const decimals = body.tokenDecimals ?? this.config.usdtDecimals;
      let raw: bigint;
      try {
        raw = parseUnits(String(amount), decimals);
      } catch {
        throw validationError(`amount ${amount} cannot be expressed with ${decimals} decimals.`);
      }
      try {
        await verifyTransfer(
          rpc,
          { txHash: body.txHash, token, to: payee, from: payer, rawAmount: raw },
          this.config.runtimeTimeoutMs,
        );
        emit({ kind: 'rpc', db: this.db, outcome: 'verified' });
      } catch (err) {
        emit({ kind: 'rpc', db: this.db, outcome: err instanceof ApiError ? err.code.toLowerCase() : 'error' });
        throw err;
      }
      verifiedAt = this.now().toISOString();
    }
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      if (CLOSED_ORDER_STATUSES.includes(o.status)) throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      let p = await findPayment(trx, orderId);
      const isNew = !p;
      p ??= this.newPayment(o, o.payment.defaultRail === 'not-required' ? 'wallet' : o.payment.defaultRail, {}, at);
      const next: PaymentRecord = {
        ...p,
        status: paymentStep(p.status, 'hold'),
        // A verified EVM wallet transfer is a WDK USDT transfer.
        rail: mode === 'rpc' && p.rail === 'wallet' ? 'wdk-usdt-transfer' : p.rail,
        chain: solana ? 'solana' : chain,
        payerAddress: payer,
        payeeAddress: payee,
        tokenAddress: token,
        amount,
        txHash: body.txHash,
        verificationMode: mode,
        verifiedAt,
        updatedAt: at,
      };
      await savePayment(trx, next, isNew);
      if (o.status === 'created' || o.status === 'payment_pending')
        await this.access.step(trx, { ...o, paymentStatus: next.status }, 'ready', at);
      await recordAudit(trx, {
        type: 'market.payment.proof-recorded',
        resourceType: 'market-payment',
        resourceId: next.id,
        payload: {
          orderId,
          verificationMode: mode,
          chain: next.chain,
          txHash: next.txHash,
          rail: next.rail,
          amount: next.amount,
        },
        at,
      });
      return next;
    });
  }

  async escrowLock(
    caller: Caller,
    orderId: string,
    body: { escrowRef?: string; txHash?: string },
  ): Promise<PaymentRecord> {
    await this.access.ownOrder(caller, orderId);
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      let p = await findPayment(trx, orderId);
      if (p?.status === 'held') return p;
      if (CLOSED_ORDER_STATUSES.includes(o.status)) throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      const isNew = !p;
      p ??= this.newPayment(o, 'escrow', {}, at);
      if (p.status === 'not_required') throw validationError('This order needs no payment.');
      const next: PaymentRecord = {
        ...p,
        status: paymentStep(p.status, 'hold'),
        escrowRef: body.escrowRef ?? p.escrowRef,
        txHash: body.txHash ?? p.txHash,
        updatedAt: at,
      };
      await savePayment(trx, next, isNew);
      if (o.status === 'created' || o.status === 'payment_pending')
        await this.access.step(trx, { ...o, paymentStatus: next.status }, 'ready', at);
      await recordAudit(trx, {
        type: 'market.payment.escrow-held',
        resourceType: 'market-payment',
        resourceId: next.id,
        payload: { orderId, escrowRef: next.escrowRef, txHash: next.txHash },
        at,
      });
      return next;
    });
  }

  private async settle(
    orderId: string,
    action: 'release' | 'refund',
    body: { txHash?: string; note?: string },
  ): Promise<PaymentRecord> {
    await this.access.order(orderId);
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      const p = await findPayment(trx, orderId);
      if (!p) throw notFound('Payment (create a payment intent first)');
      const next: PaymentRecord = {
        ...p,
        status: paymentStep(p.status, action),
        note: body.note ?? p.note,
        updatedAt: at,
        ...(body.txHash ? { txHash: body.txHash } : {}),
      };
      await savePayment(trx, next, false);
      // Refunding before execution closes the order.
      if (action === 'refund' && ['created', 'payment_pending', 'ready'].includes(o.status))
        await this.access.step(trx, { ...o, paymentStatus: next.status }, 'cancel', at);
      await recordAudit(trx, {
        type: action === 'release' ? 'market.payment.released' : 'market.payment.refunded',
        resourceType: 'market-payment',
        resourceId: p.id,
        payload: { orderId, fromStatus: p.status, orderStatus: o.status, note: next.note },
        at,
      });
      return next;
    });
  }

  release(orderId: string, body: { txHash?: string; note?: string }) {
    return this.settle(orderId, 'release', body);
  }

  refund(orderId: string, body: { txHash?: string; note?: string }) {
    return this.settle(orderId, 'refund', body);
  }
}
