// peaqos-conformance --base-url URL [--api-key K] [--profile documented|reference] [--only GROUP[,GROUP]]
//   [--reporter pretty|json|junit] [--out FILE] [--seed N] [--mcr-port N | --no-identity] [--mcr-cache-wait-ms N]
//   [--agent-api-key K] [--rate-limit-burst N] [--baseline PREVIOUS.json] [--fail-on failure|regression]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GROUPS, runConformance } from './run.ts';
import {
  compareReports,
  htmlReport,
  junit,
  prettyComparison,
  prettyLine,
  prettySummary,
  type Report,
} from './report.ts';
import { ListenError } from '../src/http/lifecycle.ts';

/** The mock MCR's port in use is a one-line error with the way out, not a stack trace. */
async function runConformanceOrExit(o: Parameters<typeof runConformance>[0]): Promise<Report> {
  try {
    return await runConformance(o);
  } catch (err) {
    if (err instanceof ListenError) {
      console.error(
        `The kit's mock MCR cannot start: ${err.message} Pass another --mcr-port (or 0 for any free port, then point the target at the URL it prints).`,
      );
      process.exit(69);
    }
    throw err;
  }
}

const USAGE = `Usage: peaqos-conformance --base-url URL [--api-key K] [--profile documented|reference] [--only GROUP]
       [--reporter pretty|json|junit] [--out FILE] [--seed N] [--mcr-port N | --no-identity] [--mcr-cache-wait-ms N]
       [--agent-api-key K] [--rate-limit-burst N] [--baseline PREVIOUS.json] [--fail-on failure|regression]
       [--timeout-ms N]
--only runs just the named groups; each sets up the machines and pairings it needs itself.
--timeout-ms bounds each request (default 15000); after 5 requests in a row without an answer the run stops and
says why (connection refused, timeout, unknown host).
Reporters: pretty (default), json, junit, html (one self-contained page; use --out report.html).
--baseline compares with an earlier JSON report: what newly fails, what got fixed, what coverage changed.
--fail-on regression exits non-zero only when a check fails that did not fail in the baseline.
Groups: ${GROUPS.join(', ')}`;

function die(msg: string): never {
  console.error(`${msg}\n${USAGE}`);
  process.exit(64);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        'base-url': { type: 'string' },
        'api-key': { type: 'string' },
        profile: { type: 'string', default: 'reference' },
        only: { type: 'string' },
        reporter: { type: 'string', default: 'pretty' },
        out: { type: 'string' },
        seed: { type: 'string', default: '1' },
        'mcr-port': { type: 'string' },
        'no-identity': { type: 'boolean', default: false },
        'mcr-cache-wait-ms': { type: 'string', default: '0' },
        'agent-api-key': { type: 'string' },
        baseline: { type: 'string' },
        'timeout-ms': { type: 'string', default: '15000' },
        'fail-on': { type: 'string', default: 'failure' },
        'rate-limit-burst': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (err) {
    die((err as Error).message);
  }
})();

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const baseUrl = values['base-url'] ?? die('--base-url is required');
if (!/^https?:\/\//.test(baseUrl)) die('--base-url must be an http(s) URL');
const profile = values.profile as string;
if (profile !== 'documented' && profile !== 'reference') die('--profile must be documented or reference');
const reporter = values.reporter as string;
if (!['pretty', 'json', 'junit', 'html'].includes(reporter)) die('--reporter must be pretty, json, junit or html');
const failOn = values['fail-on'] as string;
if (failOn !== 'failure' && failOn !== 'regression') die('--fail-on must be failure or regression');
if (failOn === 'regression' && !values.baseline) die('--fail-on regression needs --baseline');
let baseline: Report | undefined;
if (values.baseline) {
  try {
    baseline = JSON.parse(readFileSync(values.baseline, 'utf8')) as Report;
    if (!Array.isArray(baseline.results) || !baseline.coverage) throw new Error('not a report');
  } catch (err) {
    die(`--baseline ${values.baseline}: not a JSON report of this kit (${(err as Error).message})`);
  }
}
if (values['no-identity'] && values['mcr-port']) die('--mcr-port and --no-identity exclude each other');
const only = values.only ? values.only.split(',').map((g) => g.trim()) : undefined;
for (const g of only ?? []) if (!GROUPS.includes(g)) die(`unknown group ${g}`);
const timeoutMs = Number(values['timeout-ms']);
if (!Number.isInteger(timeoutMs) || timeoutMs < 100)
  die('--timeout-ms must be a whole number of milliseconds, at least 100');
const seed = Number(values.seed);
if (!Number.isInteger(seed)) die('--seed must be an integer');
const mcrPort = values['mcr-port'] !== undefined ? Number(values['mcr-port']) : undefined;
const burst = values['rate-limit-burst'] !== undefined ? Number(values['rate-limit-burst']) : undefined;
if (burst !== undefined && (!Number.isInteger(burst) || burst < 1))
  die('--rate-limit-burst must be a positive integer');
if (mcrPort !== undefined && (!Number.isInteger(mcrPort) || mcrPort < 0 || mcrPort > 65535))
  die('--mcr-port must be a port number');

// Progress goes to stderr when a machine-readable report goes to stdout.
const progress = reporter === 'pretty' || values.out ? console.log : console.error;
const report = await runConformanceOrExit({
  baseUrl,
  apiKey: values['api-key'],
  profile,
  only,
  seed,
  mcrPort,
  identity: !values['no-identity'],
  mcrCacheWaitMs: Number(values['mcr-cache-wait-ms']),
  agentApiKey: values['agent-api-key'],
  timeoutMs,
  rateLimitBurst: burst,
  onMcr: (url) => progress(`mock MCR listening on ${url} — the target must use PEAQOS_MCR_API_URL=${url}`),
  onGroup: (g) => progress(`\n${g}`),
  onResult: (r) => progress(prettyLine(r)),
});
progress(prettySummary(report));
const comparison = baseline ? compareReports(baseline, report) : undefined;
if (comparison) progress(prettyComparison(comparison));
const rendered =
  reporter === 'json'
    ? JSON.stringify(report, null, 2)
    : reporter === 'junit'
      ? junit(report)
      : reporter === 'html'
        ? htmlReport(report, comparison)
        : null;
if (values.out) writeFileSync(values.out, rendered ?? JSON.stringify(report, null, 2));
else if (rendered) console.log(rendered);
if (report.summary.passed + report.summary.failed === 0) {
  // Nothing was checked: not a pass. Say why (the skip reasons) and fail.
  const reasons = [...new Set(report.results.map((r) => r.reason).filter(Boolean))];
  console.error(`No check ran${reasons.length ? `: ${reasons.join('; ')}` : ''}.`);
  process.exit(1);
}
const failed = failOn === 'regression' ? comparison!.newlyFailing.length > 0 : report.summary.failed > 0;
process.exit(failed ? 1 : 0);
