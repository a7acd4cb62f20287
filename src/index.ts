// peaqos-machine-markets: the orchestrator as a library. Start it like the `peaqos-orchestrator` bin does, or build
// the request listener to mount it yourself.
export {
  startServer,
  createOrchestrator,
  StoreOpenError,
  type OrchestratorOptions,
  type Orchestrator,
  type RunningOrchestrator,
} from './server.ts';
export { loadConfig, ConfigError, type Config } from './config.ts';
export { createApp, type App, type AppDeps } from './app.ts';
export { ERROR_STATUS, ApiError, type ErrorCode } from './errors.ts';
export { ListenError } from './http/lifecycle.ts';
export { SPEC_PATH, loadSpec } from './contract/spec.ts';
export { version } from './main.ts';
