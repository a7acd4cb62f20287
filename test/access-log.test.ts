// The access line is written as text (src/logger.ts accessLog): it must be the line pino would write for the
// same fields, at the same level, on any destination, with hostile URLs escaped.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { accessLog, createLogger } from '../src/logger.ts';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const HOSTILE_URL = '/api/v1/machines/"quoted"\\back\u2028\u0001?x=ü&y=%22';

describe('access log line', () => {
  it('is the line pino writes for the same fields, at info, warn and error', () => {
    const direct = capture();
    const viaPino = capture();
    const log = accessLog(createLogger('info', direct.stream))!;
    const reference = pino({ level: 'info', base: { service: 'peaqos-orchestrator' } }, viaPino.stream);
    const cases: [number, 'info' | 'warn' | 'error', string][] = [
      [200, 'info', 'request completed'],
      [404, 'warn', 'request completed'],
      [503, 'error', 'request errored'],
    ];
    for (const [status, level, msg] of cases) {
      log('trace-1.a_B', 'GET', HOSTILE_URL, status, 1.6);
      reference[level](
        { req: { id: 'trace-1.a_B', method: 'GET', url: HOSTILE_URL }, res: { statusCode: status }, responseTime: 2 },
        msg,
      );
    }
    const strip = (l: Record<string, unknown>) => ({ ...l, time: 0 });
    expect(direct.lines().map(strip)).toEqual(viaPino.lines().map(strip));
    expect(direct.lines().map((l) => l.level)).toEqual([30, 40, 50]);
    expect(direct.lines()[0]!.req).toEqual({ id: 'trace-1.a_B', method: 'GET', url: HOSTILE_URL });
    expect(typeof direct.lines()[0]!.time).toBe('number');
  });

  it("follows the logger's level: warn drops the 2xx lines, silent writes nothing", () => {
    const out = capture();
    const log = accessLog(createLogger('warn', out.stream))!;
    log('a', 'GET', '/health', 200, 1);
    log('b', 'GET', '/nope', 404, 1);
    expect(out.lines().map((l) => (l.req as { id: string }).id)).toEqual(['b']);
    expect(accessLog(createLogger('silent', out.stream))).toBeUndefined();
  });

  it('goes through pino on a destination that routes by level (pino.multistream)', () => {
    const infoOut = capture();
    const errorOut = capture();
    const logger = pino(
      { level: 'info' },
      pino.multistream([
        { level: 'info', stream: infoOut.stream },
        { level: 'error', stream: errorOut.stream },
      ]),
    );
    const log = accessLog(logger)!;
    log('a', 'GET', '/health', 200, 1);
    log('b', 'GET', '/boom', 500, 1);
    expect(infoOut.lines().map((l) => l.level)).toEqual([30, 50]);
    expect(errorOut.lines().map((l) => l.msg)).toEqual(['request errored']);
  });
});
