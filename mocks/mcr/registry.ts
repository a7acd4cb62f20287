// The mock MCR's mutable state. Tests add or unregister machines and switch failure modes at run time.
import { defaultMachines, didOf, type McrMachine } from './fixtures.ts';

export type FailureMode = 'none' | '503' | '429' | 'hang' | '500';

export class McrRegistry {
  private machines = new Map<number, McrMachine>();
  failure: FailureMode = 'none';
  /** Requests the mock has answered (tests and benchmarks count MCR calls). */
  requests = 0;

  constructor(initial: McrMachine[] = defaultMachines()) {
    this.reset(initial);
  }

  reset(initial: McrMachine[] = defaultMachines()): void {
    this.machines = new Map(initial.map((m) => [m.machineId, m]));
    this.failure = 'none';
    this.requests = 0;
  }

  add(m: McrMachine): void {
    this.machines.set(m.machineId, m);
  }

  unregister(machineId: number): void {
    this.machines.delete(machineId);
  }

  update(machineId: number, patch: Partial<McrMachine>): void {
    const m = this.machines.get(machineId);
    if (!m) throw new Error(`mock MCR has no machine ${machineId}`);
    this.machines.set(machineId, { ...m, ...patch });
  }

  setFailure(mode: FailureMode): void {
    this.failure = mode;
  }

  byId(id: number): McrMachine | undefined {
    return this.machines.get(id);
  }

  byToken(tokenId: number): McrMachine | undefined {
    return [...this.machines.values()].find((m) => m.tokenId === tokenId);
  }

  byAddress(address: string): McrMachine | undefined {
    const a = address.toLowerCase();
    return [...this.machines.values()].find((m) => m.wallet && m.wallet.address.toLowerCase() === a);
  }

  byOperator(address: string): McrMachine[] {
    const a = address.toLowerCase();
    return [...this.machines.values()]
      .filter((m) => m.operator && m.operator.address.toLowerCase() === a)
      .sort((x, y) => x.machineId - y.machineId);
  }

  all(): McrMachine[] {
    return [...this.machines.values()];
  }

  static didOf = didOf;
}
