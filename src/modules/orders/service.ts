// Market orders and payments. Every step goes through the transition tables in state.ts and writes its audit
// event in the same transaction. Policy and spend checks run inside the transaction that writes the order
// (the machine and pairing rows are locked, see store/tx.ts), so concurrent orders cannot overspend and an order
// cannot slip past a concurrent archive or revoke.
import { withTransaction } from '../../store/tx.ts';
import type { Knex } from 'knex';
import { getAddress, parseUnits } from 'ethers';
import type { Config } from '../../config.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { ApiError, notFound, validationError } from '../../errors.ts';
import { keysetPage, type Page, type PageQuery } from '../../store/pages.ts';
import { recordAudit } from '../audit/service.ts';
import type { Catalog, CatalogService, RailType } from '../catalog/catalog.ts';
import type { MachinesService } from '../machines/service.ts';
import { findMachine } from '../machines/repo.ts';
import { findPairing } from '../pairings/repo.ts';
import type { PairingsService, PairingPrincipal } from '../pairings/service.ts';
import { OPERATOR, type Caller } from '../../auth/caller.ts';
import type { MarketSearchService } from '../market/search.ts';
import type { MachinePolicyRule } from '../market/ranking.ts';
import type { ExecutionOutput, TasksService, OutcomeRecord, RunRecord } from '../tasks/service.ts';
import { verifyTransfer } from '../../chain/payment-verifier.ts';
import { emit } from '../../observe.ts';
import type { CreateMarketOrderRequest, SubmitMarketPaymentProofRequest } from '../../../generated/types.gen.ts';
import {
  findOrder,
  findPayment,
  orderFrom,
  orderRow,
  paymentRow,
  saveOrder,
  spentToday,
  type OrderRecord,
  type PaymentRecord,
} from './repo.ts';
import { chargeOf, policyRefusals, type Refusal } from '../market/policy-check.ts';
import {
  OPEN_ORDER_STATUSES,
  CLOSED_ORDER_STATUSES,
  MONEY_COMMITTED,
  PAID_FOR_EXECUTION,
  orderStep,
  paymentStep,
  type OrderAction,
} from './state.ts';

// Request bodies are the contract's own types (generated from openapi.yaml).
export type CreateOrderInput = CreateMarketOrderRequest;
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

/** The first refusal of the shared policy evaluation, as the error the order step answers with. */
function refuseIf(refusals: Refusal[] | null): void {
  const r = refusals?.[0];
  if (!r) return;
  const message = `${r.reason.charAt(0).toUpperCase()}${r.reason.slice(1)}.`;
  if (r.code === 'VALIDATION_ERROR')
    throw validationError(message, [
      { location: 'body', path: '/budget/amount', rule: 'required', message: 'needed to check spending limits' },
    ]);
  throw new ApiError(r.code, message);
}

export interface MarketOrderExecution {
  status: ExecutionOutput['status'];
  order: OrderRecord;
  outcome: OutcomeRecord;
  run: RunRecord;
  error?: { code: string; message: string; details?: unknown };
}

export class OrdersService {
  constructor(
    private readonly db: Knex,
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly catalog: Catalog,
    private readonly machines: MachinesService,
    private readonly pairings: PairingsService,
    private readonly search: MarketSearchService,
    private readonly tasks: TasksService,
    private readonly machinePolicies: (ids: string[]) => Promise<MachinePolicyRule[]>,
  ) {}

  private now() {
    return this.clock.now();
  }

  /** Open orders block archiving a machine or revoking a pairing. */
  async hasOpenOrders(
    trx: Knex | Knex.Transaction,
    where: { machine_id?: string; agent_pairing_id?: string },
  ): Promise<boolean> {
    return !!(await trx('market_orders').where(where).whereIn('status', OPEN_ORDER_STATUSES).first('id'));
  }

  private async order(id: string): Promise<OrderRecord> {
    const o = await findOrder(this.db, id);
    if (!o) throw notFound('Order');
    return o;
  }

  /** Market writes on an order need the token of the pairing that placed it. */
  private async agentFor(caller: Caller, o: OrderRecord): Promise<PairingPrincipal> {
    return this.pairings.authenticate(caller, { machineId: o.machineId, agentPairingId: o.agentPairingId });
  }

  async list(machineId: string, status: string | undefined, page: PageQuery): Promise<Page<OrderRecord>> {
    await this.machines.requireActive(machineId);
    const qb = this.db('market_orders').where({ machine_id: machineId }).select('*');
    if (status) qb.where({ status });
    return keysetPage(qb, page, orderFrom);
  }

  /** An agent-scoped caller reads only orders of its own pairing. */
  async get(id: string, caller: Caller = OPERATOR): Promise<OrderRecord> {
    const o = await this.order(id);
    if (caller.role === 'agent') await this.agentFor(caller, o);
    return o;
  }

  async payment(orderId: string, caller: Caller = OPERATOR): Promise<PaymentRecord> {
    await this.get(orderId, caller);
    const p = await findPayment(this.db, orderId);
    if (!p) throw notFound('Payment (create a payment intent first)');
    return p;
  }

  async create(caller: Caller, input: CreateOrderInput): Promise<OrderRecord> {
    const principal = await this.pairings.authenticate(caller, {
      machineId: input.machineId,
      agentPairingId: input.agentPairingId,
    });
    const { machine } = await this.machines.requireActive(input.machineId, { bonded: true });
    const now = this.now();
    if (this.config.requireMarketQuotes && (!input.searchId || !input.quoteId)) {
      throw validationError('This deployment requires searchId and quoteId: order from a market search quote.', [
        { location: 'body', path: '/quoteId', rule: 'required', message: 'PEAQOS_REQUIRE_MARKET_QUOTES=true' },
      ]);
    }
    if (!!input.searchId !== !!input.quoteId) throw validationError('searchId and quoteId go together.');
    let service: CatalogService | undefined;
    let operation = input.operation;
    let quoteBudget: { amount?: number | null; currency?: string | null } | undefined;
    if (input.searchId && input.quoteId) {
      const search = await this.search.find(this.db, input.searchId);
      if (!search || search.machineId !== machine.id) throw notFound('Market search');
      const quote = search.quotes.find((q) => q.id === input.quoteId);
      if (!quote) throw notFound('Quote');
      if (Date.parse(quote.expiresAt) <= now.getTime())
        throw new ApiError('QUOTE_EXPIRED', 'The quote has expired: search again.');
      if (input.serviceId && input.serviceId !== quote.serviceId)
        throw validationError('serviceId does not match the quote.');
      service = this.catalog.service(quote.serviceId);
      operation ??= quote.operation;
      quoteBudget = (search.query as { budget?: { amount?: number; currency?: string } }).budget;
    } else {
      if (!input.serviceId)
        throw validationError('Name the service (serviceId) or the quote (searchId and quoteId).', [
          { location: 'body', path: '/serviceId', rule: 'required', message: 'serviceId or a quote is required' },
        ]);
      service = this.catalog.service(input.serviceId);
    }
    if (!service) throw notFound('Service');
    operation ??= service.operations[0]!;
    if (!service.operations.includes(operation))
      throw validationError(`Service ${service.id} has no operation ${operation}.`, [
        { location: 'body', path: '/operation', rule: 'operation', message: 'not offered by the service' },
      ]);

    const pairing = principal.pairing;
    const policy = pairing.delegationPolicy;
    // The same evaluation as market search: what search offered, the order accepts (given the same budget).
    const budget = input.budget ?? quoteBudget ?? null;
    const spend = { delegationPolicy: policy, machinePolicies: await this.machinePolicies(machine.policyIds), budget };
    refuseIf(policyRefusals(service, spend));
    const { amount, currency } = chargeOf(service, spend);
    const at = now.toISOString();
    const day = at.slice(0, 10);
    const order: OrderRecord = {
      id: newId('mor', now.getTime()),
      machineId: machine.id,
      agentPairingId: pairing.id,
      searchId: input.searchId ?? null,
      quoteId: input.quoteId ?? null,
      serviceId: service.id,
      skillKey: service.skillKey,
      providerKey: service.providerKey,
      serviceType: service.serviceType,
      operation,
      executionMode: service.executionMode,
      integrationStatus: service.integrationStatus,
      status: 'created',
      input: input.input ?? {},
      budget: budget ? { amount: budget.amount ?? null, currency: budget.currency ?? null } : null,
      payment: service.payment,
      serviceSnapshot: {
        id: service.id,
        name: service.name,
        providerKey: service.providerKey,
        companyName: service.companyName,
        pricing: service.pricing,
        payment: service.payment,
        executionMode: service.executionMode,
        region: service.region,
      },
      taskId: null,
      routeId: null,
      runId: null,
      outcomeId: null,
      handoff: service.executionMode === 'external-handoff' ? (service.handoff ?? null) : null,
      amount,
      currency,
      paymentStatus: null,
      errorMessage: null,
      disputeReason: null,
      createdAt: at,
      updatedAt: at,
    };
    await withTransaction(this.db, async (trx) => {
      // Lock the machine, then the pairing (the order every transaction takes them in): archiving the machine,
      // revoking or re-policying the pairing, and this pairing's other orders wait for this one, and this one
      // sees what they committed. The checks made before the transaction are made again on the locked rows.
      const locked = await findMachine(trx, machine.id, true);
      if (!locked || locked.status !== 'active')
        throw new ApiError('MACHINE_NOT_ACTIVE', `The machine is ${locked?.status ?? 'gone'}, not active.`);
      const row = await findPairing(trx, pairing.id, true);
      if (!row || row.status !== 'active')
        throw new ApiError('AGENT_PAIRING_INACTIVE', `The pairing is ${row?.status ?? 'gone'}.`);
      if (row.policyHash !== pairing.policyHash)
        throw new ApiError('AGENT_AUTH_INVALID', 'The delegation policy changed: rotate the session.');
      if (principal.tokenPresented && row.sessionId !== pairing.sessionId)
        throw new ApiError('AGENT_AUTH_INVALID', 'The pairing token was replaced by a newer session.');
      if (amount !== null && policy.dailySpendLimit !== null)
        refuseIf(policyRefusals(service, { ...spend, spentTodayMicros: await spentToday(trx, pairing.id, day) }));
      await trx('market_orders').insert(orderRow(order, day));
      await recordAudit(trx, {
        actor: `agent:${pairing.id}`,
        type: 'market.order.created',
        resourceType: 'market-order',
        resourceId: order.id,
        payload: {
          machineId: order.machineId,
          agentPairingId: pairing.id,
          serviceId: order.serviceId,
          searchId: order.searchId,
          quoteId: order.quoteId,
          amount,
          currency,
          defaultRail: order.payment.defaultRail,
        },
        at,
      });
    });
    return order;
  }

  /** Applies an order step and its audit event in `trx`. */
  private async step(
    trx: Knex.Transaction,
    o: OrderRecord,
    action: OrderAction,
    at: string,
    patch: Partial<OrderRecord> = {},
  ): Promise<OrderRecord> {
    const next = { ...o, ...patch, status: orderStep(o.status, action), updatedAt: at };
    await saveOrder(trx, next);
    return next;
  }

  private async writePayment(trx: Knex.Transaction, p: PaymentRecord, isNew: boolean): Promise<void> {
    const row = paymentRow(p);
    if (isNew) await trx('market_payments').insert(row);
    else {
      const { id, created_at: _c, ...rest } = row;
      void _c;
      await trx('market_payments').where({ id }).update(rest);
    }
    await trx('market_orders').where({ id: p.orderId }).update({ payment_status: p.status });
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
    const o0 = await this.order(orderId);
    await this.agentFor(caller, o0);
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      const existing = await findPayment(trx, orderId);
      if (existing) return { created: false, payment: existing };
      if (CLOSED_ORDER_STATUSES.includes(o.status)) throw new ApiError('ORDER_CLOSED', `The order is ${o.status}.`);
      const rail = body.rail ?? o.payment.defaultRail;
      this.checkRail(o, rail);
      const p = this.newPayment(o, rail, body, at);
      await this.writePayment(trx, p, true);
      if (o.status === 'created')
        await this.step(
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
    const o0 = await this.order(orderId);
    await this.agentFor(caller, o0);
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
      await this.writePayment(trx, next, isNew);
      if (o.status === 'created' || o.status === 'payment_pending')
        await this.step(trx, { ...o, paymentStatus: next.status }, 'ready', at);
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
    const o0 = await this.order(orderId);
    await this.agentFor(caller, o0);
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
      await this.writePayment(trx, next, isNew);
      if (o.status === 'created' || o.status === 'payment_pending')
        await this.step(trx, { ...o, paymentStatus: next.status }, 'ready', at);
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
    await this.order(orderId);
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
      await this.writePayment(trx, next, false);
      // Refunding before execution closes the order.
      if (action === 'refund' && ['created', 'payment_pending', 'ready'].includes(o.status))
        await this.step(trx, { ...o, paymentStatus: next.status }, 'cancel', at);
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

  async execute(
    caller: Caller,
    orderId: string,
    body: { input?: Record<string, unknown> },
  ): Promise<MarketOrderExecution> {
    const o0 = await this.order(orderId);
    await this.agentFor(caller, o0);
    await this.machines.requireActive(o0.machineId);
    const at = this.now().toISOString();
    const started = await withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      orderStep(o.status, 'execute');
      if (this.config.requirePaymentBeforeExecute) {
        const p = await findPayment(trx, orderId);
        const paid = p ? PAID_FOR_EXECUTION.includes(p.status) : !o.payment.required;
        if (!paid)
          throw new ApiError(
            'PAYMENT_REQUIRED',
            `Payment must be held (or not required) before execution; it is ${p?.status ?? 'missing'}.`,
          );
      }
      const service = this.catalog.service(o.serviceId);
      if (!service) throw notFound('Service');
      const { task, route } = await this.tasks.materialise(
        trx,
        o.machineId,
        service,
        o.operation,
        { ...o.input, ...(body.input ?? {}) },
        `market order ${o.id}`,
        at,
      );
      const next = await this.step(trx, o, 'execute', at, { taskId: task.id, routeId: route.id });
      return { order: next, task, route };
    });

    let final: OrderRecord = started.order;
    const out = await this.tasks.runRoute(started.task, started.route, started.task.input, {
      onFinish: async (trx, exec) => {
        const o = (await findOrder(trx, orderId, true))!;
        const action: OrderAction =
          exec.outcome.status === 'completed' ? 'deliver' : exec.outcome.status === 'external' ? 'hand-off' : 'fail';
        const at2 = exec.outcome.updatedAt;
        final = await this.step(trx, o, action, at2, {
          runId: exec.run.id,
          outcomeId: exec.outcome.id,
          errorMessage: exec.outcome.errorMessage,
          handoff: exec.result.kind === 'handoff' ? exec.result.handoff : o.handoff,
        });
        await recordAudit(trx, {
          type: 'market.order.executed',
          resourceType: 'market-order',
          resourceId: orderId,
          payload: { status: final.status, taskId: o.taskId, runId: exec.run.id, outcomeId: exec.outcome.id },
          at: at2,
        });
      },
    });
    return {
      status: out.status,
      order: final,
      outcome: out.outcome,
      run: out.run,
      ...(out.error ? { error: out.error } : {}),
    };
  }

  async confirm(caller: Caller, orderId: string): Promise<OrderRecord> {
    const o0 = await this.order(orderId);
    await this.agentFor(caller, o0);
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      const to = orderStep(o.status, 'confirm');
      const p = await findPayment(trx, orderId);
      let paymentStatus = o.paymentStatus;
      if (p && p.status === 'held') {
        paymentStatus = paymentStep(p.status, 'await-release');
        await this.writePayment(trx, { ...p, status: paymentStatus, updatedAt: at }, false);
      }
      const next = { ...o, status: to, paymentStatus, updatedAt: at };
      await saveOrder(trx, next);
      await recordAudit(trx, {
        type: 'market.order.confirmed',
        resourceType: 'market-order',
        resourceId: orderId,
        payload: { paymentStatus },
        at,
      });
      return next;
    });
  }

  async dispute(
    caller: Caller,
    orderId: string,
    body: { reason: string; evidence?: Record<string, unknown> },
  ): Promise<OrderRecord> {
    const o0 = await this.order(orderId);
    await this.agentFor(caller, o0);
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      const to = orderStep(o.status, 'dispute');
      const p = await findPayment(trx, orderId);
      let paymentStatus = o.paymentStatus;
      if (p && (p.status === 'held' || p.status === 'release_pending')) {
        paymentStatus = paymentStep(p.status, 'freeze');
        await this.writePayment(trx, { ...p, status: paymentStatus, updatedAt: at }, false);
      }
      const next = { ...o, status: to, paymentStatus, disputeReason: body.reason, updatedAt: at };
      await saveOrder(trx, next);
      await recordAudit(trx, {
        type: 'market.order.disputed',
        resourceType: 'market-order',
        resourceId: orderId,
        payload: { reason: body.reason, evidence: body.evidence ?? null, paymentStatus },
        at,
      });
      return next;
    });
  }

  async cancel(caller: Caller, orderId: string, body: { reason?: string }): Promise<OrderRecord> {
    const o0 = await this.order(orderId);
    await this.agentFor(caller, o0);
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      const p = await findPayment(trx, orderId);
      if (p && MONEY_COMMITTED.includes(p.status)) {
        orderStep(o.status, 'cancel'); // a closed order says ORDER_CLOSED first
        throw new ApiError(
          'ORDER_PAYMENT_HELD',
          `The order's payment is ${p.status}: the operator refunds it (POST .../payment/refund), which cancels the order.`,
        );
      }
      const next = await this.step(trx, o, 'cancel', at, { errorMessage: body.reason ?? o.errorMessage });
      await recordAudit(trx, {
        type: 'market.order.cancelled',
        resourceType: 'market-order',
        resourceId: orderId,
        payload: { reason: body.reason ?? null, paymentStatus: o.paymentStatus },
        at,
      });
      return next;
    });
  }
}
