// Reports: pretty console lines (as checks finish), JSON, and JUnit XML, each with a coverage section.
import { listOperations } from '../src/contract/spec.ts';
import type { CheckResult, Kit } from './kit.ts';

/** Error codes no request from outside can make a conforming target answer, and why. */
export const NOT_PROVOKABLE: Record<string, string> = {
  INTERNAL_ERROR: 'only a defect of the target answers it',
  NOT_IMPLEMENTED: 'a complete target implements every operation',
  STORE_BUSY: "needs the target's database to be locked by another process",
  PAYMENT_RPC_ERROR: "needs the target's EVM RPC endpoint to fail",
  PAYMENT_NOT_MINED: "needs a transaction on the target's chain that is not mined yet",
  PAYMENT_TX_FAILED: "needs a reverted transaction on the target's chain",
  PAYMENT_TRANSFER_NOT_FOUND: "needs a mined transaction on the target's chain without the expected transfer",
  PAYMENT_RPC_REQUIRED: 'answered only by a target configured without an EVM RPC endpoint',
  PAYMENT_REQUIRED: 'answered only with PEAQOS_REQUIRE_PAYMENT_BEFORE_EXECUTE=true on the target',
  AGENT_AUTH_EXPIRED: "needs a session token older than the target's session lifetime (an hour by default)",
  RUNTIME_EXECUTION_FAILED: "needs the machine's runtime endpoint to fail a call",
  RUNTIME_UNAVAILABLE: 'needs a native route with no reachable runtime endpoint',
  IDEMPOTENCY_KEY_IN_PROGRESS: 'needs two requests with one key to overlap on the target',
  AGENT_PAIRING_REQUIRED: 'answered only with PEAQOS_REQUIRE_AGENT_PAIRING_AUTH=false on the target',
  QUOTE_EXPIRED: "needs a quote older than the target's quote lifetime (10 minutes by default)",
};

/** Codes the kit provokes only when it is given an option (the option's check is skipped without it). */
export const NEEDS_OPTION: Record<string, string> = {
  AUTH_REQUIRED: 'run with --api-key against a target that requires API keys',
  AUTH_INVALID: 'run with --api-key against a target that requires API keys',
  AUTH_FORBIDDEN: "run with --agent-api-key (one of the target's agent-scoped keys)",
  RATE_LIMITED: "run with --rate-limit-burst N (spends this client's challenge budget on the target)",
};

export interface Report {
  target: string;
  profile: string;
  startedAt: string;
  durationMs: number;
  summary: { passed: number; failed: number; skipped: number };
  results: CheckResult[];
  coverage: {
    operations: { exercised: string[]; notExercised: string[] };
    errorCodes: { exercised: string[]; notExercised: string[] };
    /** Codes not exercised that cannot be provoked from outside, with the reason. */
    notProvokable?: Record<string, string>;
    /** Codes not exercised that a run with an option would provoke, with the option. */
    needsOption?: Record<string, string>;
    /** group -> the operations its checks called */
    byGroup?: Record<string, string[]>;
  };
}

export function buildReport(kit: Kit, target: string, startedAt: Date): Report {
  const ops = listOperations(kit.validator.doc)
    .filter((o) => kit.profile === 'reference' || o.source === 'documented')
    .map((o) => o.operationId);
  const codes = Object.entries(kit.validator.doc['x-peaqos-error-codes'] as Record<string, { source: string }>)
    .filter(([, v]) => kit.profile === 'reference' || v.source === 'documented')
    .map(([k]) => k);
  const r = kit.results;
  return {
    target,
    profile: kit.profile,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    summary: {
      passed: r.filter((x) => x.status === 'pass').length,
      failed: r.filter((x) => x.status === 'fail').length,
      skipped: r.filter((x) => x.status === 'skip').length,
    },
    results: r,
    coverage: {
      operations: {
        exercised: ops.filter((o) => kit.coveredOperations.has(o)),
        notExercised: ops.filter((o) => !kit.coveredOperations.has(o)),
      },
      errorCodes: {
        exercised: codes.filter((c) => kit.coveredErrorCodes.has(c)),
        notExercised: codes.filter((c) => !kit.coveredErrorCodes.has(c)),
      },
      byGroup: Object.fromEntries([...kit.operationsByGroup].map(([g, set]) => [g, [...set].sort()])),
      notProvokable: Object.fromEntries(
        codes.filter((c) => !kit.coveredErrorCodes.has(c) && NOT_PROVOKABLE[c]).map((c) => [c, NOT_PROVOKABLE[c]!]),
      ),
      needsOption: Object.fromEntries(
        codes.filter((c) => !kit.coveredErrorCodes.has(c) && NEEDS_OPTION[c]).map((c) => [c, NEEDS_OPTION[c]!]),
      ),
    },
  };
}

export function prettyLine(r: CheckResult): string {
  const mark = r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'SKIP';
  let line = `  ${mark}  ${r.name}${r.ms >= 1 ? ` (${Math.round(r.ms)} ms)` : ''}`;
  if (r.status === 'skip' && r.reason) line += `\n        skipped: ${r.reason}`;
  if (r.failure) {
    line += `\n        operation:   ${r.failure.operationId ?? '-'}`;
    line += `\n        request:     ${r.failure.request}`;
    line += `\n        expected:    ${r.failure.expectation}`;
    line += `\n        got:         ${r.failure.actual}`;
  }
  return line;
}

export function prettySummary(rep: Report): string {
  const c = rep.coverage;
  return [
    '',
    `Coverage: ${c.operations.exercised.length}/${c.operations.exercised.length + c.operations.notExercised.length} operations, ${c.errorCodes.exercised.length}/${c.errorCodes.exercised.length + c.errorCodes.notExercised.length} error codes exercised.`,
    c.operations.notExercised.length ? `  operations not exercised: ${c.operations.notExercised.join(', ')}` : '',
    c.errorCodes.notExercised.length ? `  error codes not exercised: ${c.errorCodes.notExercised.join(', ')}` : '',
    ...Object.entries(c.notProvokable ?? {}).map(([code, why]) => `    ${code}: not provokable from outside (${why})`),
    ...Object.entries(c.needsOption ?? {}).map(([code, how]) => `    ${code}: to exercise it, ${how}`),
    '',
    `${rep.summary.passed} passed, ${rep.summary.failed} failed, ${rep.summary.skipped} skipped (${rep.profile} profile, ${(rep.durationMs / 1000).toFixed(1)} s)`,
  ]
    .filter((l, i, a) => l !== '' || (i > 0 && a[i - 1] !== ''))
    .join('\n');
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function junit(rep: Report): string {
  const groups = new Map<string, CheckResult[]>();
  for (const r of rep.results) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  const suites = [...groups].map(([g, rs]) => {
    const cases = rs
      .map((r) => {
        const body =
          r.status === 'fail'
            ? `<failure message="${xml(r.failure!.expectation)}">${xml(`operation: ${r.failure!.operationId ?? '-'}\nrequest: ${r.failure!.request}\nexpected: ${r.failure!.expectation}\ngot: ${r.failure!.actual}`)}</failure>`
            : r.status === 'skip'
              ? `<skipped message="${xml(r.reason ?? '')}"/>`
              : '';
        return `    <testcase classname="peaqos-conformance.${xml(g)}" name="${xml(r.name)}" time="${(r.ms / 1000).toFixed(3)}">${body}</testcase>`;
      })
      .join('\n');
    return `  <testsuite name="${xml(g)}" tests="${rs.length}" failures="${rs.filter((r) => r.status === 'fail').length}" skipped="${rs.filter((r) => r.status === 'skip').length}">\n${cases}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="peaqos-conformance" tests="${rep.results.length}" failures="${rep.summary.failed}" skipped="${rep.summary.skipped}">\n${suites.join('\n')}\n</testsuites>\n`;
}

// ---- comparing two runs ----

export interface Comparison {
  /** Failing now, not failing in the baseline (passed, skipped or absent). */
  newlyFailing: string[];
  /** Failing in the baseline, passing now. */
  fixed: string[];
  stillFailing: string[];
  operations: { gained: string[]; lost: string[] };
  errorCodes: { gained: string[]; lost: string[] };
}

const key = (r: CheckResult) => `${r.group}: ${r.name}`;

/** What changed from `baseline` (an earlier JSON report) to `current`. */
export function compareReports(baseline: Report, current: Report): Comparison {
  const before = new Map(baseline.results.map((r) => [key(r), r.status]));
  const now = current.results;
  const diff = (a: string[], b: string[]) => a.filter((x) => !b.includes(x));
  return {
    newlyFailing: now.filter((r) => r.status === 'fail' && before.get(key(r)) !== 'fail').map(key),
    fixed: now.filter((r) => r.status === 'pass' && before.get(key(r)) === 'fail').map(key),
    stillFailing: now.filter((r) => r.status === 'fail' && before.get(key(r)) === 'fail').map(key),
    operations: {
      gained: diff(current.coverage.operations.exercised, baseline.coverage.operations.exercised),
      lost: diff(baseline.coverage.operations.exercised, current.coverage.operations.exercised),
    },
    errorCodes: {
      gained: diff(current.coverage.errorCodes.exercised, baseline.coverage.errorCodes.exercised),
      lost: diff(baseline.coverage.errorCodes.exercised, current.coverage.errorCodes.exercised),
    },
  };
}

export function prettyComparison(c: Comparison): string {
  const list = (title: string, xs: string[]) =>
    xs.length ? [`${title} (${xs.length}):`, ...xs.map((x) => `  ${x}`)] : [`${title}: none`];
  return [
    '',
    'Compared with the baseline:',
    ...list('Newly failing', c.newlyFailing),
    ...list('Fixed', c.fixed),
    ...list('Still failing', c.stillFailing),
    `Coverage: operations +${c.operations.gained.length} -${c.operations.lost.length}, error codes +${c.errorCodes.gained.length} -${c.errorCodes.lost.length}`,
    ...(c.operations.gained.length ? [`  operations now exercised: ${c.operations.gained.join(', ')}`] : []),
    ...(c.operations.lost.length ? [`  operations no longer exercised: ${c.operations.lost.join(', ')}`] : []),
    ...(c.errorCodes.gained.length ? [`  error codes now exercised: ${c.errorCodes.gained.join(', ')}`] : []),
    ...(c.errorCodes.lost.length ? [`  error codes no longer exercised: ${c.errorCodes.lost.join(', ')}`] : []),
  ].join('\n');
}

// ---- a report to look at ----

const html = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One self-contained HTML file (no scripts, no network): summary, coverage matrix, error codes, failures. */
export function htmlReport(rep: Report, comparison?: Comparison): string {
  const groups = [...new Set(rep.results.map((r) => r.group))];
  const ops = [...rep.coverage.operations.exercised, ...rep.coverage.operations.notExercised].sort();
  const byGroup = rep.coverage.byGroup ?? {};
  const matrix = ops
    .map((op) => {
      const cells = groups
        .map((g) => (byGroup[g]?.includes(op) ? '<td class="hit" title="exercised">●</td>' : '<td></td>'))
        .join('');
      const exercised = rep.coverage.operations.exercised.includes(op);
      return `<tr class="${exercised ? '' : 'missing'}"><th scope="row">${html(op)}</th>${cells}</tr>`;
    })
    .join('\n');
  const failures = rep.results.filter((r) => r.status === 'fail');
  const failureBlocks = failures
    .map(
      (r) => `<article class="failure"><h3>${html(r.group)}: ${html(r.name)}</h3><dl>
<dt>operation</dt><dd>${html(r.failure?.operationId ?? '-')}</dd>
<dt>request</dt><dd><pre>${html(r.failure?.request ?? '')}</pre></dd>
<dt>expected</dt><dd>${html(r.failure?.expectation ?? '')}</dd>
<dt>got</dt><dd><pre>${html(r.failure?.actual ?? '')}</pre></dd></dl></article>`,
    )
    .join('\n');
  const rows = rep.results
    .map(
      (r) =>
        `<tr class="${r.status}"><td>${html(r.group)}</td><td>${html(r.name)}</td><td>${r.status}</td><td>${html(r.reason ?? '')}</td></tr>`,
    )
    .join('\n');
  const codes = (xs: string[], cls: string) => xs.map((c) => `<span class="code ${cls}">${html(c)}</span>`).join(' ');
  const cmp = comparison
    ? `<section id="comparison"><h2>Compared with the baseline</h2><p>Newly failing: ${comparison.newlyFailing.length}, fixed: ${comparison.fixed.length}, still failing: ${comparison.stillFailing.length}.</p>
<ul>${comparison.newlyFailing.map((x) => `<li class="fail">new: ${html(x)}</li>`).join('')}${comparison.fixed.map((x) => `<li class="pass">fixed: ${html(x)}</li>`).join('')}</ul></section>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peaqOS conformance: ${html(rep.target)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}h1{font-size:1.4rem}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th[scope=col]{writing-mode:vertical-rl;font-weight:normal}
td.hit{color:#176b2c;text-align:center}tr.missing th{color:#a33}tr.fail td{background:#fde2e2}tr.pass td:nth-child(3){color:#176b2c}
tr.skip td{color:#777}.summary span{margin-right:1rem;font-weight:bold}.code{display:inline-block;margin:2px;padding:1px 4px;border-radius:3px}
.code.hit{background:#dff3e3}.code.miss{background:#eee;color:#777}.failure{border-left:4px solid #c33;padding-left:1rem;margin:1rem 0}pre{white-space:pre-wrap;margin:0}
</style></head><body>
<h1>peaqOS Machine Markets conformance report</h1>
<p>Target <code>${html(rep.target)}</code>, profile <strong>${html(rep.profile)}</strong>, started ${html(rep.startedAt)}, ${(rep.durationMs / 1000).toFixed(1)} s.</p>
<p class="summary" id="summary"><span class="pass">${rep.summary.passed} passed</span><span class="fail">${rep.summary.failed} failed</span><span class="skip">${rep.summary.skipped} skipped</span></p>
${cmp}
<section id="coverage"><h2>Coverage: ${rep.coverage.operations.exercised.length} of ${ops.length} operations</h2>
<table id="matrix"><thead><tr><th>operation</th>${groups.map((g) => `<th scope="col">${html(g)}</th>`).join('')}</tr></thead><tbody>
${matrix}
</tbody></table>
<h3>Error codes: ${rep.coverage.errorCodes.exercised.length} of ${rep.coverage.errorCodes.exercised.length + rep.coverage.errorCodes.notExercised.length} exercised</h3>
<p>${codes(rep.coverage.errorCodes.exercised, 'hit')} ${codes(rep.coverage.errorCodes.notExercised, 'miss')}</p>
<ul>${Object.entries(rep.coverage.notProvokable ?? {})
    .map(([c, why]) => `<li><code>${html(c)}</code>: not provokable from outside (${html(why)})</li>`)
    .join('')}${Object.entries(rep.coverage.needsOption ?? {})
    .map(([c, how]) => `<li><code>${html(c)}</code>: to exercise it, ${html(how)}</li>`)
    .join('')}</ul></section>
<section id="failures"><h2>Failures (${failures.length})</h2>${failureBlocks || '<p>None.</p>'}</section>
<section id="checks"><h2>Every check</h2><table><thead><tr><th>group</th><th>check</th><th>result</th><th>reason</th></tr></thead><tbody>
${rows}
</tbody></table></section>
</body></html>
`;
}
