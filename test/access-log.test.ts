// The access line is written as text (src/logger.ts accessLog): it must be the line pino would write for the
// same fields, at the same level, on any destination, with hostile URLs escaped.
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { accessLog, createLogger, LogBuffer } from '../src/logger.ts';

function capture(): { stream: Writable; chunks: string[]; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    chunks,
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
    // A URL with characters JSON escapes, one without (written as it is), and one with a lone surrogate.
    for (const url of [HOSTILE_URL, '/api/v1/machines/mch_1?limit=5&x=%22', '/health?\ud800'])
      for (const [status, level, msg] of cases) {
        log('trace-1.a_B', 'GET', url, status, 1.6);
        reference[level](
          { req: { id: 'trace-1.a_B', method: 'GET', url }, res: { statusCode: status }, responseTime: 2 },
          msg,
        );
      }
    // The same text, byte for byte, but for the time.
    const text = (chunks: string[]) => chunks.join('').replace(/"time":\d+/g, '"time":0');
    expect(text(direct.chunks)).toBe(text(viaPino.chunks));
    const strip = (l: Record<string, unknown>) => ({ ...l, time: 0 });
    expect(direct.lines().map(strip)).toEqual(viaPino.lines().map(strip));
    expect(direct.lines().map((l) => l.level)).toEqual([30, 40, 50, 30, 40, 50, 30, 40, 50]);
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

  it('on a LogBuffer: holds access lines until HOLD_MS or HOLD_BYTES, and writes them before any other line', async () => {
    const out = capture();
    const buffer = new LogBuffer(out.stream);
    const logger = createLogger('info', buffer);
    const log = accessLog(logger)!;
    for (let i = 0; i < 3; i++) log(`r${i}`, 'GET', '/health', 200, 1);
    expect(out.chunks).toEqual([]); // held
    await new Promise((r) => setTimeout(r, LogBuffer.HOLD_MS + 50));
    expect(out.chunks).toHaveLength(1); // one write for the three
    expect(out.lines().map((l) => (l.req as { id: string }).id)).toEqual(['r0', 'r1', 'r2']);

    // Another line (pino's) is written at once, after the access lines held before it.
    log('r3', 'GET', '/nope', 404, 1);
    logger.warn('store busy');
    expect(out.chunks).toHaveLength(2);
    expect(out.lines().map((l) => l.msg)).toEqual([
      'request completed',
      'request completed',
      'request completed',
      'request completed',
      'store busy',
    ]);

    // HOLD_BYTES of held lines are written without waiting: with ~1.2 KB lines, on the line that reaches it.
    const url = `/health?pad=${'x'.repeat(1000)}`;
    let logged = 0;
    while (out.chunks.length === 2 && logged < 100) log(`big${logged++}`, 'GET', url, 200, 1);
    expect(out.chunks).toHaveLength(3);
    expect(logged).toBe(Math.ceil(LogBuffer.HOLD_BYTES / out.chunks[2]!.split('\n')[0]!.length));
    expect(out.lines()).toHaveLength(5 + logged);
  });

  it('with buffers, hands its destination one Buffer per write (sonic-boom in buffer mode)', () => {
    const written: unknown[] = [];
    const buffer = new LogBuffer({ write: (chunk: unknown) => (written.push(chunk), true) } as never, {
      buffers: true,
    });
    const log = accessLog(createLogger('info', buffer))!;
    log('b1', 'GET', '/health?ü', 200, 1);
    log('b2', 'GET', '/health', 200, 1);
    buffer.release();
    expect(written).toHaveLength(1);
    expect(Buffer.isBuffer(written[0])).toBe(true);
    const lines = (written[0] as Buffer).toString('utf8').split('\n').filter(Boolean);
    expect(lines.map((l) => (JSON.parse(l) as { req: { url: string } }).req.url)).toEqual(['/health?ü', '/health']);
  });

  it('on any other destination, writes each line at once', () => {
    const out = capture();
    const log = accessLog(createLogger('info', out.stream))!;
    log('a', 'GET', '/health', 200, 1);
    log('b', 'DELETE', '/health', 200, 1);
    log('c', 'PROPFIND', '/health', 200, 1);
    expect(out.lines().map((l) => (l.req as { method: string }).method)).toEqual(['GET', 'DELETE', 'PROPFIND']);
  });

  it('writes the lines still pending when the process exits, on the default destination (stdout)', () => {
    // A process that logs and exits in the same turn: its lines must not be lost with the batch.
    const script = [
      "import { accessLog, createLogger } from './src/logger.ts';",
      "const log = accessLog(createLogger('info'));",
      "for (let i = 0; i < 3; i++) log('exit-' + i, 'GET', '/health', 200, 1);",
      "log('exit-err', 'GET', '/boom', 500, 1);",
      'process.exit(0);',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const ids = run.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { req: { id: string } }).req.id);
    expect(ids).toEqual(['exit-0', 'exit-1', 'exit-2', 'exit-err']);
  });
});
