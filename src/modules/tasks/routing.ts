// Discovery and routing: rank the catalogue for a task on a machine, read a resolution off the ranking, and build
// the route a resolution selects (the top candidate, the rest as its fallback chain). Nothing here writes, and
// nothing here needs Node: the frontend mock routes tasks with these same functions.
import type {
  Candidate,
  CatalogService,
  DiscoverTaskRequest,
  RouteRecord,
  TaskRecord,
  TaskResolution,
} from '../../../generated/types.gen.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Machine } from '../machines/types.ts';
import { rankServices, type MachinePolicyRule } from '../market/ranking.ts';

/** What ranking needs to know about the machine beyond its record. */
export interface TaskContext {
  policies(policyIds: string[]): Promise<MachinePolicyRule[]>;
  activeRuntimeProviders(machineId: string): Promise<Set<string>>;
}

export interface Ranking {
  candidates: Candidate[];
  excluded: number;
}

export async function rankForTask(
  catalog: Catalog,
  context: TaskContext,
  machine: Machine,
  t: TaskRecord,
  opts: DiscoverTaskRequest,
): Promise<Ranking> {
  const [machinePolicies, runtimeProviders] = await Promise.all([
    context.policies(machine.policyIds),
    context.activeRuntimeProviders(machine.id),
  ]);
  const r = rankServices(
    catalog.services,
    {
      serviceType: t.serviceType,
      operation: t.operation,
      requiredCapabilities: t.constraints.requiredCapabilities,
      region: t.constraints.region,
      budget: t.constraints.budget !== undefined ? { amount: t.constraints.budget } : undefined,
      nativeOnly: opts.requireNativeExecution ?? t.constraints.requireNativeExecution,
      allowExternalHandoff: opts.allowExternalHandoff ?? t.constraints.allowExternalHandoff,
      machinePolicies,
      runtimeProviders,
      machineSkillKeys: machine.skillKeys,
      preferredSkillKeys: t.constraints.preferredSkillKeys,
    },
    opts.maxCandidates ?? t.discovery.maxCandidates,
  );
  return {
    candidates: r.ranked.map((x) => ({ service: x.service, score: x.score, reasons: x.reasons })),
    excluded: r.excluded.length,
  };
}

/** The top candidate as a native or hand-off resolution, or why there is none. */
export function resolutionOf({ candidates, excluded }: Ranking): TaskResolution {
  const top = candidates[0];
  if (!top) {
    return {
      kind: 'unavailable',
      reason: excluded
        ? `No candidate is left after the task's constraints and the machine's policies (${excluded} excluded).`
        : 'No catalogue service matches the task.',
      candidates: [],
    };
  }
  if (top.service.executionMode === 'external-handoff' && top.service.handoff)
    return { kind: 'handoff', candidate: top, handoff: top.service.handoff };
  return { kind: 'native', candidate: top };
}

/** The route a resolution selects: its candidate, with every other ranked candidate as the fallback chain. */
export function routeFor(
  id: string,
  t: TaskRecord,
  resolution: Exclude<TaskResolution, { kind: 'unavailable' }>,
  candidates: Candidate[],
  at: string,
): RouteRecord {
  const top = resolution.candidate;
  return {
    id,
    machineId: t.machineId,
    taskId: t.id,
    selectedSkillKey: top.service.skillKey,
    selectedServiceId: top.service.id,
    executionMode: top.service.executionMode,
    integrationStatus: top.service.integrationStatus,
    status: 'selected',
    reason: top.reasons[0] ?? 'best ranked candidate',
    score: top.score,
    fallbackChain: candidates.slice(1).map((c) => ({
      skillKey: c.service.skillKey,
      serviceId: c.service.id,
      executionMode: c.service.executionMode,
    })),
    handoff: resolution.kind === 'handoff' ? resolution.handoff : null,
    createdAt: at,
    updatedAt: at,
  };
}

/** A fixed route to one service (market orders), with no fallback. */
export function fixedRoute(
  id: string,
  t: TaskRecord,
  service: CatalogService,
  reason: string,
  at: string,
): RouteRecord {
  return {
    id,
    machineId: t.machineId,
    taskId: t.id,
    selectedSkillKey: service.skillKey,
    selectedServiceId: service.id,
    executionMode: service.executionMode,
    integrationStatus: service.integrationStatus,
    status: 'selected',
    reason,
    score: 1,
    fallbackChain: [],
    handoff: service.executionMode === 'external-handoff' ? (service.handoff ?? null) : null,
    createdAt: at,
    updatedAt: at,
  };
}
