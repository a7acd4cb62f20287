// The runtime prober: probes runtime endpoints on an interval (PEAQOS_RUNTIME_PROBE_INTERVAL_MS; 0 = off).
import type { Logger } from 'pino';
import type { ClusterLease } from '../../store/lease.ts';
import { errorForLog } from '../../logger.ts';
import type { RuntimeService } from './service.ts';

export interface RuntimeProberDeps {
  runtime: RuntimeService;
  intervalMs: number;
  logger: Logger;
  lease: ClusterLease;
}

/**
 * Probes runtime endpoints every `intervalMs`. With several replicas one of them probes per round: each round
 * first takes the `runtime-prober` cluster lease (store/lease.ts), so endpoints are not probed N times and
 * replicas do not overwrite each other's verdicts; a replica that dies hands over when its lease runs out.
 * Lease expiry needs no background work: an expired lease is read as unreachable (active.ts).
 */
export class RuntimeProber {
  static readonly LEASE = 'runtime-prober';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly runtime: RuntimeService;
  private readonly intervalMs: number;
  private readonly logger: Logger;
  private readonly lease: ClusterLease;

  constructor(deps: RuntimeProberDeps) {
    this.runtime = deps.runtime;
    this.intervalMs = deps.intervalMs;
    this.logger = deps.logger;
    this.lease = deps.lease;
  }
  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.round()
        .catch((err) => this.logger.warn({ err: errorForLog(err) }, 'runtime probe round failed'))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }
  /** One round, if this replica holds the lease. Returns how many endpoints it probed (null: another replica's turn). */
  async round(): Promise<number | null> {
    // The lease outlives one interval a little, so the holder keeps it from round to round.
    if (!(await this.lease.acquire(RuntimeProber.LEASE, Math.ceil(this.intervalMs * 1.5)))) return null;
    return this.runtime.probeAll(this.logger);
  }
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.intervalMs > 0) await this.lease.release(RuntimeProber.LEASE).catch(() => undefined);
  }
}
