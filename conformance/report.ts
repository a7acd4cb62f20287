// Reports: pretty console lines (as checks finish), JSON, and JUnit XML, each with a coverage section.
import { listOperations } from '../src/contract/spec.ts';
import type { CheckResult, Kit } from './kit.ts';

export interface Report {
  target: string;
  profile: string;
  startedAt: string;
  durationMs: number;
  summary: { passed: number; failed: number; skipped: number };
  results: CheckResult[];
  coverage: { operations: { exercised: string[]; notExercised: string[] }; errorCodes: { exercised: string[]; notExercised: string[] } };
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
    summary: { passed: r.filter((x) => x.status === 'pass').length, failed: r.filter((x) => x.status === 'fail').length, skipped: r.filter((x) => x.status === 'skip').length },
    results: r,
    coverage: {
      operations: { exercised: ops.filter((o) => kit.coveredOperations.has(o)), notExercised: ops.filter((o) => !kit.coveredOperations.has(o)) },
      errorCodes: { exercised: codes.filter((c) => kit.coveredErrorCodes.has(c)), notExercised: codes.filter((c) => !kit.coveredErrorCodes.has(c)) },
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
