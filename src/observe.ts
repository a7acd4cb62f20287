// What the store and the services report for metrics, without knowing about metrics: events on one process-wide
// bus. Each event names the knex handle (or client) it happened on, so that a Metrics instance counts only its own
// app's events when several apps share a process (tests, embedding). With no listener, emitting costs a size check.
import type { Knex } from 'knex';

export type StoreEvent =
  | { kind: 'tx'; db: Knex; seconds: number; outcome: 'commit' | 'rollback' | 'retry' }
  | { kind: 'busy'; client: Knex.Client; waitedMs: number; gaveUp: boolean }
  | { kind: 'audit'; db: Knex; type: string }
  | { kind: 'challenge'; db: Knex; purpose: string }
  | { kind: 'probe'; db: Knex; healthy: boolean }
  | { kind: 'rpc'; db: Knex; outcome: string };

const listeners = new Set<(e: StoreEvent) => void>();

export function emit(e: StoreEvent): void {
  if (listeners.size === 0) return;
  for (const l of listeners) l(e);
}

/** Subscribes; returns the unsubscribe function. */
export function listen(l: (e: StoreEvent) => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export const hasListeners = (): boolean => listeners.size > 0;
