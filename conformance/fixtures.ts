// What the kit brings along: the mock MCR (so it holds the DID-controller keys) and a generic runtime endpoint
// that answers every call, for native execution flows.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Wallet } from 'ethers';
import { startMockMcr, type MockMcrServer } from '../mocks/mcr/server.ts';
import { fixtureMachine, didOf } from '../mocks/mcr/fixtures.ts';

export interface KitMachineIdentity {
  mcrId: number;
  wallet: Wallet;
  did: string;
}

export class Fixtures {
  private nextId: number;
  constructor(
    readonly mcr: MockMcrServer | null,
    readonly runtimeUrl: string,
    private readonly closeRuntime: () => Promise<void>,
  ) {
    this.nextId = 100_000 + Math.floor(Math.random() * 800_000_000);
  }

  static async start(opts: { mcrPort?: number; identity: boolean; host?: string }): Promise<Fixtures> {
    const mcr = opts.identity ? await startMockMcr({ port: opts.mcrPort ?? 0, host: opts.host ?? '127.0.0.1' }) : null;
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, path: req.url, data: [{ id: 'conformance-model' }] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const runtimeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return new Fixtures(
      mcr,
      runtimeUrl,
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
  }

  /** A fresh machine registered in the mock MCR, with its controller wallet. */
  newMachine(opts: { bonded?: boolean } = {}): KitMachineIdentity {
    if (!this.mcr) throw new Error('no mock MCR (--no-identity)');
    const wallet = Wallet.createRandom() as unknown as Wallet;
    const mcrId = this.nextId++;
    this.mcr.registry.add(
      fixtureMachine(mcrId, { wallet, operator: null, bondStatus: opts.bonded === false ? 'unbonded' : 'bonded' }),
    );
    return { mcrId, wallet, did: didOf(wallet) };
  }

  async close(): Promise<void> {
    await this.closeRuntime();
    await this.mcr?.close();
  }
}
