// The default fixtures: several machines (active, draft), pairings, policies, runtime endpoints, an agent,
// tasks with their routes, outcomes and runs, and orders in several states. Built through the mock's own
// operations with real EIP-191 signatures from the mock MCR fixture wallets, so they are what the API makes.
import { testWallet, didOf } from '../mcr/fixtures.ts';
import type { MockApi } from './mock.ts';

export interface SeedInfo {
  machines: Record<string, string>;
  pairingTokens: Record<string, string>;
  agentTokens: Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- seed records are written as spec examples and validated against openapi.yaml by the tests
type Body = any;

async function must(api: MockApi, operationId: string, req: Parameters<MockApi['call']>[1]): Promise<Body> {
  const r = await api.call(operationId, req);
  if (r.status >= 400) throw new Error(`seed: ${operationId} answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function machine(
  api: MockApi,
  mcrId: number,
  name: string,
  opts: { activate?: boolean; ref?: string; policyIds?: string[]; skillKeys?: string[] } = {},
) {
  const wallet = testWallet(`machine:${mcrId}`);
  const ref = opts.ref ?? didOf(wallet);
  const c = await must(api, 'createMachineIdentityChallenge', { body: { identityRef: ref } });
  const signature = await wallet.signMessage(c.item.message);
  const m = await must(api, 'createMachine', {
    body: {
      displayName: name,
      ownerId: 'acme-robotics',
      machineType: 'rover',
      runtimeProfile: 'jetson-orin',
      identityRef: ref,
      identityProof: { challengeId: c.item.challengeId, signature },
      capabilities: ['llm.inference', 'camera'],
      labels: { site: 'hamburg' },
      policyIds: opts.policyIds ?? [],
      skillKeys: opts.skillKeys ?? [],
    },
  });
  if (opts.activate !== false)
    await must(api, 'updateMachine', { params: { machineId: m.item.id }, body: { status: 'active' } });
  return m.item.id as string;
}

async function pairing(api: MockApi, machineId: string, label: string, delegationPolicy: Record<string, unknown> = {}) {
  const agent = testWallet(`agent:${label}`);
  const c = await must(api, 'createAgentPairingChallenge', {
    params: { machineId },
    body: { agentAddress: agent.address, agentProvider: 'anthropic', agentRole: 'buyer' },
  });
  const p = await must(api, 'createAgentPairing', {
    params: { machineId },
    body: {
      agentAddress: agent.address,
      agentProvider: 'anthropic',
      agentRole: 'buyer',
      description: `${label} agent`,
      delegationPolicy,
      agentProof: { challengeId: c.item.challengeId, signature: await agent.signMessage(c.item.message) },
    },
  });
  return { id: p.item.id as string, token: p.item.pairingToken as string };
}

export async function seedFixtures(api: MockApi): Promise<SeedInfo> {
  const info: SeedInfo = { machines: {}, pairingTokens: {}, agentTokens: {} };
  const eu = await must(api, 'createPolicy', { body: { name: 'EU data residency', regionRules: ['eu-central'] } });
  await must(api, 'createPolicy', {
    body: {
      name: 'Native only under 5 USDT',
      nativeOnly: true,
      handoffAllowed: false,
      budgetCap: { amount: 5, currency: 'USDT' },
    },
  });

  const rover = await machine(api, 1, 'Warehouse rover 1', { skillKeys: ['qvac.llm'] });
  const drone = await machine(api, 2, 'Inspection drone 2', { policyIds: [eu.item.id] });
  const draft = await machine(api, 3, 'Charging robot 3 (draft)', { activate: false });
  const arm = await machine(api, 6, 'Sorting arm 6', { ref: 'peaqos:machine:6' });
  Object.assign(info.machines, { rover, drone, draft, arm });

  await must(api, 'upsertRuntimeEndpoint', {
    params: { machineId: rover, providerKey: 'qvac' },
    body: {
      endpointBaseUrl: 'http://127.0.0.1:11434',
      authType: 'bearer',
      authToken: 'local-runtime-token',
      modelAlias: 'llama-3.2-3b',
    },
  });
  const agent = await must(api, 'enrollMachineAgent', {
    params: { machineId: rover },
    body: { label: 'Jetson runtime agent', allowedProviderKeys: ['qvac', 'ros2-bridge'] },
  });
  info.agentTokens[rover] = agent.item.agentToken;
  await must(api, 'machineAgentHeartbeat', {
    body: {
      machineId: rover,
      agentId: agent.item.id,
      agentToken: agent.item.agentToken,
      leaseSeconds: 86400,
      endpoints: [{ providerKey: 'ros2-bridge', endpointBaseUrl: 'http://127.0.0.1:9090' }],
    },
  });
  await must(api, 'upsertRuntimeEndpoint', {
    params: { machineId: drone, providerKey: 'wdk' },
    body: { endpointBaseUrl: 'http://192.168.1.40:7000' },
  });

  const roverPairing = await pairing(api, rover, 'rover', {
    perTransactionLimit: 5,
    dailySpendLimit: 20,
    currency: 'USDT',
  });
  const dronePairing = await pairing(api, drone, 'drone');
  info.pairingTokens[rover] = roverPairing.token;
  info.pairingTokens[drone] = dronePairing.token;
  const asRover = { 'x-agent-pairing-token': roverPairing.token };
  const asDrone = { 'x-agent-pairing-token': dronePairing.token };

  const node = await must(api, 'createGraphNode', {
    params: { machineId: rover },
    body: { type: 'machine', title: 'Warehouse rover 1', position: { x: 0, y: 0 } },
  });
  const skill = await must(api, 'createGraphNode', {
    params: { machineId: rover },
    body: { type: 'skill', title: 'Local inference', refId: 'qvac.llm', position: { x: 200, y: 0 } },
  });
  await must(api, 'createGraphEdge', {
    params: { machineId: rover },
    body: { sourceNodeId: node.item.id, targetNodeId: skill.item.id, type: 'execute', label: 'runs on' },
  });

  const task = await must(api, 'createTask', {
    params: { machineId: rover },
    body: {
      serviceType: 'compute.marketplace',
      taskType: 'inference',
      operation: 'chat.completions',
      input: { messages: [{ role: 'user', content: 'Summarise the last maintenance log.' }] },
    },
  });
  await must(api, 'resolveTask', { params: { machineId: rover, taskId: task.item.id }, body: {} });
  await must(api, 'executeTask', { params: { machineId: rover, taskId: task.item.id }, body: {} });
  await must(api, 'createTask', {
    params: { machineId: rover },
    body: { serviceType: 'data.location', taskType: 'positioning' },
  });

  const search = await must(api, 'searchMarket', {
    headers: asRover,
    body: { machineId: rover, serviceType: 'compute.marketplace', operation: 'chat.completions' },
  });
  const quote = search.item.quotes[0];
  await must(api, 'createMarketOrder', {
    headers: asRover,
    body: { machineId: rover, searchId: search.item.id, quoteId: quote.id },
  });
  const delivered = await must(api, 'createMarketOrder', {
    headers: asRover,
    body: {
      machineId: rover,
      serviceId: 'svc_qvac_llm_local',
      input: { messages: [{ role: 'user', content: 'hello' }] },
    },
  });
  await must(api, 'createMarketPaymentIntent', { params: { orderId: delivered.item.id }, headers: asRover, body: {} });
  await must(api, 'executeMarketOrder', { params: { orderId: delivered.item.id }, headers: asRover, body: {} });
  const confirmed = await must(api, 'createMarketOrder', {
    headers: asRover,
    body: { machineId: rover, serviceId: 'svc_qvac_llm_local' },
  });
  await must(api, 'executeMarketOrder', { params: { orderId: confirmed.item.id }, headers: asRover, body: {} });
  await must(api, 'confirmMarketOrder', { params: { orderId: confirmed.item.id }, headers: asRover });

  const paid = await must(api, 'createMarketOrder', {
    headers: asDrone,
    body: { machineId: drone, serviceId: 'svc_geodnet_rtk_x402' },
  });
  await must(api, 'createMarketPaymentIntent', {
    params: { orderId: paid.item.id },
    headers: asDrone,
    body: { rail: 'x402' },
  });
  await must(api, 'submitMarketPaymentProof', {
    params: { orderId: paid.item.id },
    headers: asDrone,
    body: { txHash: `0x${'5a'.repeat(32)}`, verificationMode: 'recorded' },
  });
  const disputed = await must(api, 'createMarketOrder', {
    headers: asDrone,
    body: { machineId: drone, serviceId: 'svc_humanity_pop' },
  });
  await must(api, 'lockMarketPaymentEscrow', {
    params: { orderId: disputed.item.id },
    headers: asDrone,
    body: { escrowRef: 'escrow-demo-1' },
  });
  await must(api, 'executeMarketOrder', { params: { orderId: disputed.item.id }, headers: asDrone, body: {} });
  await must(api, 'disputeMarketOrder', {
    params: { orderId: disputed.item.id },
    headers: asDrone,
    body: { reason: 'Verification never completed.' },
  });
  const cancelled = await must(api, 'createMarketOrder', {
    headers: asDrone,
    body: { machineId: drone, serviceId: 'svc_geodnet_rtk_x402' },
  });
  await must(api, 'cancelMarketOrder', {
    params: { orderId: cancelled.item.id },
    headers: asDrone,
    body: { reason: 'No longer needed.' },
  });

  (api as MockApi & { fixtures?: SeedInfo }).fixtures = info;
  return info;
}
