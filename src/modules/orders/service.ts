// Market orders (payments are in payments.ts). Every step goes through the transition tables in state.ts and writes its audit
// event in the same transaction. Policy and spend checks run inside the transaction that writes the order
// (the machine and pairing rows are locked, see store/tx.ts), so concurrent orders cannot overspend and an order
// cannot slip past a concurrent archive or revoke.
import { withTransaction } from '../../store/tx.ts';
import type { Knex } from 'knex';
import type { Config } from '../../config.ts';
import type { Clock } from '../../clock.ts';
import { newId } from '../../ids.ts';
import { ApiError, notFound, validationError } from '../../errors.ts';
import { keysetPage, type Page, type PageQuery } from '../../store/pages.ts';
import { recordAudit } from '../audit/service.ts';
import type { Catalog, CatalogService } from '../catalog/catalog.ts';
import type { MachinesService } from '../machines/service.ts';
import { findMachine } from '../machines/repo.ts';
import { findPairing } from '../pairings/repo.ts';
import type { PairingsService } from '../pairings/service.ts';
import { OPERATOR, type Caller } from '../../auth/caller.ts';
import type { MarketSearchService } from '../market/search.ts';
import type { MachinePolicyRule } from '../market/ranking.ts';
import type { ExecutionOutput, TasksService, OutcomeRecord, RunRecord } from '../tasks/service.ts';
import type { CreateMarketOrderRequest } from '../../../generated/types.gen.ts';
import type { OrderAccess } from './access.ts';
import {
  insertOrder,
  ordersOf,
  findOrder,
  savePayment,
  findPayment,
  orderFrom,
  saveOrder,
  spentToday,
  type OrderRecord,
} from './repo.ts';
import { chargeOf, policyRefusals, type Refusal } from '../market/policy-check.ts';
import { MONEY_COMMITTED, PAID_FOR_EXECUTION, orderStep, paymentStep, type OrderAction } from './state.ts';

/** A new order (status created) for a catalogue service, with the service's terms as they are now. */
export function newOrder(
  service: CatalogService,
  o: Pick<
    OrderRecord,
    | 'id'
    | 'machineId'
    | 'agentPairingId'
    | 'searchId'
    | 'quoteId'
    | 'operation'
    | 'input'
    | 'budget'
    | 'amount'
    | 'currency'
  > & { at: string },
): OrderRecord {
  return {
    id: o.id,
    machineId: o.machineId,
    agentPairingId: o.agentPairingId,
    searchId: o.searchId,
    quoteId: o.quoteId,
    serviceId: service.id,
    skillKey: service.skillKey,
    providerKey: service.providerKey,
    serviceType: service.serviceType,
    operation: o.operation,
    executionMode: service.executionMode,
    integrationStatus: service.integrationStatus,
    status: 'created',
    input: o.input,
    budget: o.budget,
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
    amount: o.amount,
    currency: o.currency,
    paymentStatus: null,
    errorMessage: null,
    disputeReason: null,
    createdAt: o.at,
    updatedAt: o.at,
  };
}

// Request bodies are the contract's own types (generated from openapi.yaml).
export type CreateOrderInput = CreateMarketOrderRequest;

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

export interface OrdersServiceDeps {
  db: Knex;
  config: Config;
  clock: Clock;
  catalog: Catalog;
  machines: MachinesService;
  pairings: PairingsService;
  search: MarketSearchService;
  tasks: TasksService;
  machinePolicies(ids: string[]): Promise<MachinePolicyRule[]>;
  /** Reading and stepping orders, shared with payments. */
  access: OrderAccess;
}

export class OrdersService {
  private readonly db: Knex;
  private readonly config: Config;
  private readonly clock: Clock;
  private readonly catalog: Catalog;
  private readonly machines: MachinesService;
  private readonly pairings: PairingsService;
  private readonly search: MarketSearchService;
  private readonly tasks: TasksService;
  private readonly machinePolicies: (ids: string[]) => Promise<MachinePolicyRule[]>;
  private readonly access: OrderAccess;

  constructor(deps: OrdersServiceDeps) {
    ({
      db: this.db,
      config: this.config,
      clock: this.clock,
      catalog: this.catalog,
      machines: this.machines,
      pairings: this.pairings,
      search: this.search,
      tasks: this.tasks,
    } = deps);
    this.machinePolicies = (ids) => deps.machinePolicies(ids);
    this.access = deps.access;
  }

  private now() {
    return this.clock.now();
  }

  async list(machineId: string, status: string | undefined, page: PageQuery): Promise<Page<OrderRecord>> {
    await this.machines.requireActive(machineId);
    return keysetPage(ordersOf(this.db, machineId, status), page, orderFrom);
  }

  /** An agent-scoped caller reads only orders of its own pairing. */
  async get(id: string, caller: Caller = OPERATOR): Promise<OrderRecord> {
    const o = await this.access.order(id);
    if (caller.role === 'agent') await this.access.agentFor(caller, o);
    return o;
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
    const order = newOrder(service, {
      id: newId('mor', now.getTime()),
      machineId: machine.id,
      agentPairingId: pairing.id,
      searchId: input.searchId ?? null,
      quoteId: input.quoteId ?? null,
      operation,
      input: input.input ?? {},
      budget: budget ? { amount: budget.amount ?? null, currency: budget.currency ?? null } : null,
      amount,
      currency,
      at,
    });
    await withTransaction(this.db, async (trx) => {
      // Lock the machine, then the pairing (the order every transaction takes them in): archiving the machine,
      // revoking or re-policying the pairing, and this pairing's other orders wait for this one, and this one
      // sees what they committed. The checks made before the transaction are made again on the locked rows.
      // The three reads go out together (PostgreSQL runs them in this order, each after the one before it, so the
      // day's spend is read with the pairing locked); the checks follow in the same order.
      const [locked, row, spentTodayMicros] = await Promise.all([
        findMachine(trx, machine.id, true),
        findPairing(trx, pairing.id, true),
        amount !== null && policy.dailySpendLimit !== null ? spentToday(trx, pairing.id, day) : undefined,
      ]);
      if (!locked || locked.status !== 'active')
        throw new ApiError('MACHINE_NOT_ACTIVE', `The machine is ${locked?.status ?? 'gone'}, not active.`);
      if (!row || row.status !== 'active')
        throw new ApiError('AGENT_PAIRING_INACTIVE', `The pairing is ${row?.status ?? 'gone'}.`);
      if (row.policyHash !== pairing.policyHash)
        throw new ApiError('AGENT_AUTH_INVALID', 'The delegation policy changed: rotate the session.');
      if (principal.tokenPresented && row.sessionId !== pairing.sessionId)
        throw new ApiError('AGENT_AUTH_INVALID', 'The pairing token was replaced by a newer session.');
      if (spentTodayMicros !== undefined) refuseIf(policyRefusals(service, { ...spend, spentTodayMicros }));
      await insertOrder(trx, order, day);
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

  async execute(
    caller: Caller,
    orderId: string,
    body: { input?: Record<string, unknown> },
  ): Promise<MarketOrderExecution> {
    const o0 = await this.access.ownOrder(caller, orderId);
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
      const next = await this.access.step(trx, o, 'execute', at, { taskId: task.id, routeId: route.id });
      return { order: next, task, route };
    });

    let final: OrderRecord = started.order;
    const out = await this.tasks.runRoute(started.task, started.route, started.task.input, {
      onFinish: async (trx, exec) => {
        const o = (await findOrder(trx, orderId, true))!;
        const action: OrderAction =
          exec.outcome.status === 'completed' ? 'deliver' : exec.outcome.status === 'external' ? 'hand-off' : 'fail';
        const at2 = exec.outcome.updatedAt;
        final = await this.access.step(trx, o, action, at2, {
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
    await this.access.ownOrder(caller, orderId);
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      const to = orderStep(o.status, 'confirm');
      const p = await findPayment(trx, orderId);
      let paymentStatus = o.paymentStatus;
      if (p && p.status === 'held') {
        paymentStatus = paymentStep(p.status, 'await-release');
        await savePayment(trx, { ...p, status: paymentStatus, updatedAt: at }, false);
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
    await this.access.ownOrder(caller, orderId);
    const at = this.now().toISOString();
    return withTransaction(this.db, async (trx) => {
      const o = (await findOrder(trx, orderId, true))!;
      const to = orderStep(o.status, 'dispute');
      const p = await findPayment(trx, orderId);
      let paymentStatus = o.paymentStatus;
      if (p && (p.status === 'held' || p.status === 'release_pending')) {
        paymentStatus = paymentStep(p.status, 'freeze');
        await savePayment(trx, { ...p, status: paymentStatus, updatedAt: at }, false);
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
    await this.access.ownOrder(caller, orderId);
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
      const next = await this.access.step(trx, o, 'cancel', at, { errorMessage: body.reason ?? o.errorMessage });
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
