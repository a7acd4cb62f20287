// Graceful shutdown for any node:http server of this package (the orchestrator and both mocks): stop accepting,
// close idle keep-alive connections, let in-flight requests finish and send them with `Connection: close` so their
// sockets close after the response, then resolve. Past `timeoutMs` the remaining connections are cut and their
// requests counted.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

export interface Drainable {
  /** Requests whose responses have not finished. */
  readonly inFlight: number;
  /** Stops the server; resolves with how many requests had to be cut after `timeoutMs`. */
  drain(timeoutMs: number): Promise<{ cut: number }>;
}

/**
 * Keep-alive sockets are closed only once they have been idle for IDLE_GRACE_MS: a client that sends its next
 * request on a socket just as it is closed sees a reset, and a busy client's sockets are never idle for long, so
 * instead they carry one more request, answered with `Connection: close`, and close after it.
 */
const IDLE_GRACE_MS = 250;

/** A connection's requests in flight and since when it has had none; kept on the socket and on its responses. */
interface ConnectionState {
  busy: number;
  idleSince: number;
}
const STATE = Symbol('peaqos.connection');
type Tracked<T> = T & { [STATE]?: ConnectionState };

export function drainable(server: Server): Drainable {
  const open = new Set<ServerResponse>();
  const sockets = new Set<Tracked<Socket>>();
  let draining = false;
  // One listener for every response (no closure per request): a request costs two counter updates and a set entry.
  function closed(this: Tracked<ServerResponse>) {
    open.delete(this);
    const state = this[STATE];
    if (state) {
      state.busy--;
      state.idleSince = Date.now();
    }
  }
  server.on('connection', (socket: Tracked<Socket>) => {
    socket[STATE] = { busy: 0, idleSince: Date.now() };
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Before the server's own listener: it may answer at once (awaitable.ts), and a request that comes in while
  // draining must be answered with `Connection: close`.
  server.prependListener('request', (req: IncomingMessage, res: Tracked<ServerResponse>) => {
    const state = (req.socket as Tracked<Socket>)[STATE];
    if (state) state.busy++;
    res[STATE] = state;
    open.add(res);
    if (draining && !res.headersSent) res.setHeader('connection', 'close');
    res.on('close', closed);
  });
  return {
    get inFlight() {
      return open.size;
    },
    drain(timeoutMs) {
      draining = true;
      for (const res of open) if (!res.headersSent) res.setHeader('connection', 'close');
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
            if (state.busy === 0 && now - state.idleSince >= IDLE_GRACE_MS) socket.end();
          }
          if (sockets.size === 0) finish(0);
        }, 25);
        const timer = setTimeout(() => {
          const cut = open.size;
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
