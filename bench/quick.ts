// npm run bench:quick -- PATH [ROUNDS]: one GET scenario against the reference server and the limit server,
// alternating rounds on the same SQLite file (1,000 machines with verified identities, mock MCR), printing req/s and
// server CPU per request. For working on the hot path; `npm run bench` is the full run that writes RESULTS.md.
// BENCH_NODE_ARGS (for example "--cpu-prof --cpu-prof-dir=prof") is passed to the reference server.
// This machine's timings move by 10% and more from round to round; to compare two builds:
// - QUICK_BASE=FILE runs an earlier dist/bench/reference.js in the same rounds (QUICK_BASE_ARGS: its Node options;
//   QUICK_BASE_ENV: JSON settings over QUICK_ENV's, for example metrics off to see what they cost);
// - QUICK_IR=N counts, under callgrind, the instructions each server executes per request over N requests (best of
//   three windows after QUICK_IR_WARMUP requests; QUICK_IR_SIM=1 adds simulated cache misses and mispredicted
//   branches; QUICK_IR_PEERS=0 leaves the limit and fastify out). Repeat runs agree within about 2%; fewer
//   instructions is not always less time (RESULTS.md).
// QUICK_PEER_ARGS: Node options for the limit and fastify servers too (for example --trace-gc-nvp).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { buildBenchServers, cpuMicros, machineCpuMicros, SERVER_NODE_OPTIONS } from './lib.ts';
import { Wallet } from 'ethers';
import { startMockMcr } from '../mocks/mcr/server.ts';
import { fixtureMachine, didOf } from '../mocks/mcr/fixtures.ts';

const path = process.argv[2] ?? '/api/v1/machines/{id}';
const rounds = Number(process.argv[3] ?? 3);
/** Node options from an environment variable, space-separated. */
const nodeArgs = (value: string | undefined): string[] => value?.split(' ').filter(Boolean) ?? [];
const duration = Number(process.env.BENCH_DURATION ?? 5);
const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'peaqos-quick-'));
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

await buildBenchServers();

interface Server {
  name: string;
  url: string;
  pid: number;
  proc: ChildProcess;
}
/** QUICK_IR=N: instructions per request under callgrind instead of timed rounds (see the end of this file). */
const irRequests = Number(process.env.QUICK_IR ?? 0);
if (irRequests && spawnSync('valgrind', ['--version']).error) {
  console.error('QUICK_IR needs valgrind (callgrind) on the PATH: apt-get install valgrind');
  process.exit(1);
}
let underValgrind = false;
function start(name: string, env: Record<string, string>, args: string[] = []): Promise<Server> {
  // The reference server logs at info to a file (as bench/run.ts does); the listening line comes on stderr.
  const logFile = openSync(join(work, `${name}.${children.length}.log`), 'a');
  const command = [process.execPath, ...args, `dist/bench/${name}.js`];
  if (underValgrind)
    command.unshift(
      'valgrind',
      '--tool=callgrind',
      '--smc-check=all-non-file',
      '--instr-atstart=no',
      '--separate-threads=yes',
      ...(process.env.QUICK_IR_SIM ? ['--cache-sim=yes', '--branch-sim=yes'] : []),
      `--callgrind-out-file=${join(work, `${name}.callgrind`)}`,
    );
  const proc = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, PORT: '0', LOG_LEVEL: name.startsWith('reference') ? 'info' : 'silent', ...env },
    stdio: ['pipe', logFile, 'pipe'],
  });
  closeSync(logFile);
  children.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m) resolve({ name, url: m[1]!, pid: proc.pid!, proc });
    });
    proc.on('exit', (c) => reject(new Error(`${name} exited ${c}: ${out}`)));
  });
}
const stop = (s: Server) => new Promise((r) => (s.proc.once('exit', r), s.proc.kill('SIGTERM')));
/** CPU ticks per thread name (the main thread, libuv's pool, V8's helpers), to see where a request's CPU goes. */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      const f = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(`${comm}#${t === String(pid) ? 'main' : t}`, Number(f[11]) + Number(f[12]));
      if (t === String(pid)) {
        out.set('main-sys', Number(f[12]));
        out.set('minflt/100', Number(f[7]) / 100);
      }
    } catch {
      // the thread ended
    }
  }
  return out;
}
/** The machine and paired agent orders are placed for (set up below). */
const orderFor = { machineId: '', token: '' };
/**
 * "POST /api/v1/machines" registers a new machine per request (run with verification disabled in QUICK_ENV). The
 * numbering starts from the clock, so that repeated runs on one PostgreSQL database do not collide.
 */
let registered = Date.now() * 1000;
const postMachine = () =>
  JSON.stringify({
    displayName: 'bench',
    ownerId: 'bench',
    machineType: 'rig',
    runtimeProfile: 'bench',
    identityRef: `peaqos:machine:${registered++}`,
  });
/** What autocannon sends for scenario `p` to `s`: a GET, or a POST with a fresh body per request. */
function requestsOf(s: Server, p: string) {
  const post = p.startsWith('POST ');
  const order = p === 'POST /api/v1/market/orders';
  return {
    url: `${s.url}${post ? p.slice(5) : p}`,
    ...(post
      ? {
          method: 'POST' as const,
          headers: {
            'content-type': 'application/json',
            ...(order ? { 'x-agent-pairing-token': orderFor.token } : {}),
          },
          requests: [
            {
              setupRequest: (q: object) =>
                ({
                  ...q,
                  body: order
                    ? JSON.stringify({ machineId: orderFor.machineId, serviceId: 'svc_humanity_pop' })
                    : postMachine(),
                }) as never,
            },
          ],
        }
      : {}),
  };
}
async function load(s: Server, p: string) {
  const t0 = process.env.QUICK_THREADS ? threadTicks(s.pid) : undefined;
  const c0 = cpuMicros(s.pid);
  const m0 = machineCpuMicros();
  const perf = process.env.QUICK_PERF
    ? spawn(
        'perf',
        [
          'record',
          '-F',
          '2000',
          '-g',
          '-p',
          String(s.pid),
          '-o',
          `${process.env.QUICK_PERF}.${s.name}`,
          '--',
          'sleep',
          String(duration - 1),
        ],
        { stdio: 'ignore' },
      )
    : undefined;
  const strace = process.env.QUICK_STRACE
    ? spawn(
        'timeout',
        [
          '-s',
          'INT',
          String(duration - 1),
          'strace',
          '-c',
          '-f',
          '-p',
          String(s.pid),
          '-o',
          `${process.env.QUICK_STRACE}.${s.name}`,
        ],
        { stdio: 'ignore' },
      )
    : undefined;
  const r = await autocannon({ ...requestsOf(s, p), connections: 10, duration });
  if (strace) await new Promise((r) => (strace.exitCode !== null ? r(null) : strace.once('exit', r)));
  if (perf) await new Promise((r) => (perf.exitCode !== null ? r(null) : perf.once('exit', r)));
  if (t0) {
    const t1 = threadTicks(s.pid);
    const per = [...t1]
      .filter(([k, v]) => v - (t0.get(k) ?? 0) > 0)
      .map(([k, v]) => `${k}=${Math.round(((v - (t0.get(k) ?? 0)) * 10_000) / r.requests.total)}`);
    console.log(`  threads (µs/req): ${per.join(' ')}`);
  }
  if (r.non2xx && s.name === 'reference' && p === 'POST /api/v1/market/orders') {
    const res = await fetch(`${s.url}${p.slice(5)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-agent-pairing-token': orderFor.token },
      body: JSON.stringify({ machineId: orderFor.machineId, serviceId: 'svc_humanity_pop' }),
    });
    console.log(`  a refused order: ${res.status} ${await res.text()}`);
  }
  return {
    rps: Math.round(r.requests.average),
    cpu: Math.round((cpuMicros(s.pid) - c0) / Math.max(1, r.requests.total)),
    machine: Math.round((machineCpuMicros() - m0) / Math.max(1, r.requests.total)),
    bad: r.non2xx + r.errors,
  };
}
async function post(url: string, p: string, body: unknown) {
  const res = await fetch(`${url}${p}`, {
    method: body === undefined ? 'PATCH' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? { status: 'active' }),
  });
  const b = (await res.json()) as { item: Record<string, string> };
  if (res.status >= 400) throw new Error(`${p} -> ${res.status} ${JSON.stringify(b)}`);
  return b.item;
}

const mcr = await startMockMcr();
const dbFile = join(work, 'bench.sqlite');
const env = {
  PEAQOS_DATABASE_URL: dbFile,
  PEAQOS_MCR_API_URL: mcr.url,
  PEAQOS_MCR_CACHE_TTL_MS: '30000',
  PEAQOS_MCR_REQUESTS_PER_MINUTE: '0',
  PEAQOS_RATE_LIMIT_WRITES_PER_MINUTE: '0',
  PEAQOS_RATE_LIMIT_CHALLENGES_PER_MINUTE: '0',
  PEAQOS_AGENT_PAIRING_SESSION_SECRET: 'bench-secret-bench-secret-bench-secret!!',
  ...(process.env.QUICK_ENV ? JSON.parse(process.env.QUICK_ENV) : {}),
};
let ref = await start('reference', env, SERVER_NODE_OPTIONS);
let first = '';
for (let i = 0; i < Number(process.env.QUICK_MACHINES ?? 200); i++) {
  const wallet = Wallet.createRandom() as unknown as Wallet;
  mcr.registry.add(fixtureMachine(5000 + i, { wallet, operator: null }));
  const did = didOf(wallet);
  const c = await post(ref.url, '/api/v1/machine-identity/challenges', { identityRef: did });
  const m = await post(ref.url, '/api/v1/machines', {
    displayName: 'bench',
    ownerId: 'bench',
    machineType: 'rig',
    runtimeProfile: 'bench',
    identityRef: did,
    identityProof: { challengeId: c.challengeId, signature: await wallet.signMessage(c.message!) },
  });
  await post(ref.url, `/api/v1/machines/${m.id}`, undefined);
  first ||= m.id!;
}
// A paired agent on the first machine, for "POST /api/v1/market/orders".
const agent = Wallet.createRandom() as unknown as Wallet;
const pairingBody = { agentAddress: agent.address, agentProvider: 'bench', agentRole: 'buyer' };
const pc = await post(ref.url, `/api/v1/machines/${first}/agent-pairings/challenges`, pairingBody);
const pairing = await post(ref.url, `/api/v1/machines/${first}/agent-pairings`, {
  ...pairingBody,
  agentProof: { challengeId: pc.challengeId, signature: await agent.signMessage(pc.message!) },
});
Object.assign(orderFor, { machineId: first, token: pairing.pairingToken! });
await stop(ref);
const target = path.replace('{id}', first);
underValgrind = irRequests > 0;
ref = await start('reference', env, [...SERVER_NODE_OPTIONS, ...nodeArgs(process.env.BENCH_NODE_ARGS)]);
// QUICK_PEER_ARGS: Node options for the limit and fastify servers too (for example --trace-gc-nvp).
const peerArgs = nodeArgs(process.env.QUICK_PEER_ARGS);
// With PEAQOS_DATABASE_URL=postgres://... in QUICK_ENV, the limit is limit-pg on that database, and fastify (which
// reads SQLite) is left out.
const pgUrl = /^postgres/.test(String(env.PEAQOS_DATABASE_URL)) ? String(env.PEAQOS_DATABASE_URL) : undefined;
const limit = pgUrl
  ? await start('limit-pg', { BENCH_DATABASE_URL: pgUrl }, peerArgs)
  : await start('limit-sqlite', { BENCH_DB: dbFile }, peerArgs);
// fastify serves the GET routes only.
const fastify =
  pgUrl || path.startsWith('POST ') ? undefined : await start('fastify-sqlite', { BENCH_DB: dbFile }, peerArgs);
// QUICK_BASE=FILE: an earlier build of dist/bench/reference.js, run in the same rounds (A/B on one noisy machine),
// with QUICK_BASE_ARGS as its Node options if set (else npm start's).
if (process.env.QUICK_BASE) copyFileSync(process.env.QUICK_BASE, 'dist/bench/reference-base.js');
const base = process.env.QUICK_BASE
  ? await start(
      'reference-base',
      { ...env, ...(process.env.QUICK_BASE_ENV ? JSON.parse(process.env.QUICK_BASE_ENV) : {}) },
      process.env.QUICK_BASE_ARGS === undefined ? SERVER_NODE_OPTIONS : nodeArgs(process.env.QUICK_BASE_ARGS),
    )
  : undefined;
if (process.env.QUICK_SHOW) {
  for (const s of [limit, ...(fastify ? [fastify] : []), ref]) {
    const res = await fetch(`${s.url}${target}`);
    const text = await res.text();
    console.log(`${s.name}: ${res.status} ${JSON.stringify([...res.headers])} ${text.length} bytes`);
  }
}
/** A callgrind dump's event totals by event name (Ir, and with the simulation the misses). */
function callgrindTotals(file: string): Map<string, number> {
  const text = readFileSync(join(work, file), 'utf8');
  const names = /^events: (.*)$/m.exec(text)![1]!.split(' ');
  const totals = /^totals: (.*)$/m.exec(text)![1]!.split(' ').map(Number);
  return new Map(names.map((n, i) => [n, totals[i] ?? 0]));
}
if (irRequests) {
  // Deterministic on a noisy machine: the user-space instructions a server executes per request (all its threads,
  // the kernel left out), counted by callgrind over irRequests requests after a warm-up run uninstrumented.
  const instructions = async (s: Server) => {
    const run = (amount: number) => autocannon({ ...requestsOf(s, target), connections: 10, amount });
    await run(Number(process.env.QUICK_IR_WARMUP ?? 5000));
    const control = (...a: string[]) =>
      new Promise((r) => spawn('callgrind_control', [...a, String(s.pid)], { stdio: 'ignore' }).once('exit', r));
    await control('--instr=on');
    // Three windows, the quietest kept: a window can catch V8 compiling or collecting in the background.
    let best: { ir: number; all: number; sim: string; bad: number } | undefined;
    for (let w = 1; w <= 3; w++) {
      await control('--zero');
      const r = await run(irRequests);
      await control('--dump');
      // One file per thread and dump (NAME.callgrind.DUMP-THREAD): the main thread's, and all threads' together.
      const dumps = readdirSync(work).filter((f) => f.startsWith(`${s.name}.callgrind.${w}-`));
      const per = (n: number) => Math.round(n / r.requests.total);
      const main = callgrindTotals(dumps.find((f) => f.endsWith('-01'))!);
      const m = {
        ir: per(main.get('Ir')!),
        all: per(dumps.reduce((a, f) => a + callgrindTotals(f).get('Ir')!, 0)),
        // With QUICK_IR_SIM: the main thread's simulated cache misses and mispredicted branches per request.
        sim: [...main]
          .filter(([k]) => k !== 'Ir')
          .map(([k, v]) => `${k} ${per(v)}`)
          .join(', '),
        bad: r.non2xx + r.errors,
      };
      if (!best || m.ir < best.ir) best = m;
    }
    await control('--instr=off');
    return best!;
  };
  // QUICK_IR_PEERS=0: the reference (and QUICK_BASE) only, when the limit's and fastify's counts are known.
  const peers = process.env.QUICK_IR_PEERS === '0' ? [] : [limit, ...(fastify ? [fastify] : [])];
  for (const s of [...peers, ...(base ? [base] : []), ref]) {
    const m = await instructions(s);
    console.log(
      `${s.name}: ${m.ir} instructions/request on the main thread, ${m.all} in all threads${m.sim ? `; ${m.sim}` : ''}${m.bad ? ` (${m.bad} bad)` : ''}`,
    );
  }
} else {
  await load(ref, target); // warm-up
}
// Per server: req/s, its own CPU per request, and the whole machine's (database and load generator included).
const show = (name: string, x: { rps: number; cpu: number; machine: number }) =>
  `${name} ${x.rps} req/s ${x.cpu} µs (machine ${x.machine} µs)`;
for (let i = 0; i < (irRequests ? 0 : rounds); i++) {
  const l = await load(limit, target);
  const f = fastify ? await load(fastify, target) : undefined;
  const b = base ? await load(base, target) : undefined;
  const r = await load(ref, target);
  console.log(
    `round ${i + 1}: ${show('limit', l)} | ${f ? `${show('fastify', f)} | ` : ''}${b ? `${show('base', b)} ${Math.round((b.rps / l.rps) * 100)}% | ` : ''}${show('reference', r)}${r.bad ? ` (${r.bad} bad)` : ''} | ${Math.round((r.rps / l.rps) * 100)}% of the limit`,
  );
}
await Promise.all([stop(ref), stop(limit), ...(fastify ? [stop(fastify)] : []), ...(base ? [stop(base)] : [])]);
await mcr.close();
if (process.env.QUICK_KEEP) console.log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
