// Graceful shutdown for any node:http server of this package (the orchestrator and both mocks): stop accepting,
// close idle keep-alive connections, let in-flight requests finish and send them with `Connection: close` so their
// sockets close after the response, then resolve. Past `timeoutMs` the remaining connections are cut and the
// requests in flight on them counted.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

export interface Drainable {
  /**
   * Requests in flight: connections whose latest response has not finished (with HTTP pipelining, the requests
   * queued behind it are not counted apart).
   */
  readonly inFlight: number;
  /** Stops the server; resolves with how many requests in flight (as inFlight counts them) were cut after `timeoutMs`. */
  drain(timeoutMs: number): Promise<{ cut: number }>;
}

/**
 * Keep-alive sockets are closed only once they have been idle for IDLE_GRACE_MS: a client that sends its next
 * request on a socket just as it is closed sees a reset, and a busy client's sockets are never idle for long, so
 * instead they carry one more request, answered with `Connection: close`, and close after it.
 */
const IDLE_GRACE_MS = 250;

/** What drainable keeps on each connection: its latest response, and (while draining) since when it is idle. */
interface ConnectionState {
  latest: ServerResponse | undefined;
  idleSince: number | undefined;
}
const STATE = Symbol('peaqos.connection');
type Tracked = Socket & { [STATE]?: ConnectionState };

/** A response not yet written to the end nor given up: its connection is busy. */
const pending = (res: ServerResponse | undefined) => !!res && !res.writableFinished && !res.destroyed;

/**
 * Takes over the request listeners `server` has now (one, in this package) and calls them from one listener that
 * first notes the response on its connection. Nothing else happens per request until a drain starts: whether a
 * connection is busy is read off its latest response then (responses on one connection finish in order), and how
 * long it has been idle is watched from then on. So a connection idle before the drain is closed IDLE_GRACE_MS
 * after it starts, not at once.
 */
export function drainable(server: Server): Drainable {
  const sockets = new Set<Tracked>();
  let draining = false;
  server.on('connection', (socket: Tracked) => {
    socket[STATE] = { latest: undefined, idleSince: undefined };
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const listeners = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', function (this: Server, req: IncomingMessage, res: ServerResponse) {
    const state = (req.socket as Tracked)[STATE];
    if (state) state.latest = res;
    // Before the listeners run: they may answer at once (awaitable.ts).
    if (draining) res.setHeader('connection', 'close');
    for (const listener of listeners) listener.call(this, req, res);
  });
  const busy = () => [...sockets].filter((socket) => pending(socket[STATE]!.latest)).length;
  return {
    get inFlight() {
      return busy();
    },
    drain(timeoutMs) {
      draining = true;
      for (const socket of sockets) {
        const res = socket[STATE]!.latest;
        if (pending(res) && !res!.headersSent) res!.setHeader('connection', 'close');
      }
      // Stop accepting, without node:http's close() closing every idle keep-alive socket at once.
      NetServer.prototype.close.call(server);
      return new Promise((resolve) => {
        const finish = (cut: number) => {
          clearInterval(tick);
          clearTimeout(timer);
          resolve({ cut });
        };
        const tick = setInterval(() => {
          const now = Date.now();
          for (const socket of sockets) {
            const state = socket[STATE]!;
            if (pending(state.latest)) state.idleSince = undefined;
            else if (now - (state.idleSince ??= now) >= IDLE_GRACE_MS) socket.end();
          }
          if (sockets.size === 0) finish(0);
        }, 25);
        const timer = setTimeout(() => {
          const cut = busy();
          for (const socket of sockets) socket.destroy();
          finish(cut);
        }, timeoutMs);
      });
    },
  };
}

/** Listens, turning EADDRINUSE and EACCES into one readable line (the caller prints it and exits). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(
          new ListenError(`Port ${port} on ${host} is already in use: stop what holds it or choose another port.`),
        );
      else if (err.code === 'EACCES')
        reject(
          new ListenError(
            `Not allowed to listen on port ${port} on ${host}: choose a port above 1023 or run with the right to bind it.`,
          ),
        );
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
        reject(new ListenError(`Cannot listen on host ${host}: it is not an address of this machine.`));
      else reject(err);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}
