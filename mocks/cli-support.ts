// What the mock bins share: option parsing with usage errors, one-line listen failures, and a graceful stop on
// SIGTERM/SIGINT (in-flight requests finish; exit 0, or 1 when PEAQOS_SHUTDOWN_TIMEOUT_MS cut some).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ListenError } from '../src/http/lifecycle.ts';

export function parseOrExit<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  usage: string,
) {
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    });
    if ((parsed.values as { help?: boolean }).help) {
      console.log(usage);
      process.exit(0);
    }
    return parsed.values as { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string };
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    process.exit(64);
  }
}

export function portOrExit(value: string | undefined, dflt: number, usage: string): number {
  const port = value === undefined ? dflt : Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number (0-65535).\n${usage}`);
    process.exit(64);
  }
  return port;
}

/** Starts, or exits with one line for a port in use (69); any other failure keeps its stack. */
export async function startOrExit<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if (err instanceof ListenError) {
      console.error(err.message);
      process.exit(69);
    }
    throw err;
  }
}

export function stopOnSignals(shutdown: (timeoutMs: number) => Promise<{ cut: number }>): void {
  const timeoutMs = Number(process.env.PEAQOS_SHUTDOWN_TIMEOUT_MS ?? 10_000);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const { cut } = await shutdown(Number.isFinite(timeoutMs) ? timeoutMs : 10_000);
    if (cut > 0) console.error(`stopped after ${timeoutMs} ms: ${cut} request(s) cut`);
    process.exit(cut > 0 ? 1 : 0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
