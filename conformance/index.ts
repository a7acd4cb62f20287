// peaqos-machine-markets/conformance: run the kit from code and get the report object.
export { runConformance, GROUPS, type RunOptions } from './run.ts';
export {
  junit,
  prettyLine,
  prettySummary,
  htmlReport,
  compareReports,
  prettyComparison,
  type Report,
  type Comparison,
} from './report.ts';
export type { CheckResult, Failure, Status } from './kit.ts';
export type { Profile } from './spec-profile.ts';
