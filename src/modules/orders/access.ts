// Reading an order and moving it one step, shared by orders (service.ts) and payments (payments.ts).
import type { Knex } from 'knex';
import { notFound } from '../../errors.ts';
import type { Caller } from '../../auth/caller.ts';
import type { PairingPrincipal, PairingsService } from '../pairings/service.ts';
import { findOrder, saveOrder, type OrderRecord } from './repo.ts';
import { orderStep, type OrderAction } from './state.ts';

export class OrderAccess {
  private readonly db: Knex;
  private readonly pairings: PairingsService;

  constructor(deps: { db: Knex; pairings: PairingsService }) {
    ({ db: this.db, pairings: this.pairings } = deps);
  }

  async order(id: string): Promise<OrderRecord> {
    const o = await findOrder(this.db, id);
    if (!o) throw notFound('Order');
    return o;
  }

  /** Market writes on an order need the token of the pairing that placed it. */
  async agentFor(caller: Caller, o: OrderRecord): Promise<PairingPrincipal> {
    return this.pairings.authenticate(caller, { machineId: o.machineId, agentPairingId: o.agentPairingId });
  }

  /** The order, once the caller has shown the token of the pairing that placed it (market writes). */
  async ownOrder(caller: Caller, id: string): Promise<OrderRecord> {
    const o = await this.order(id);
    await this.agentFor(caller, o);
    return o;
  }

  /** Applies an order step in `trx` (the caller writes its audit event). */
  async step(
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
}
