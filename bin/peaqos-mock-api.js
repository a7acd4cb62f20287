#!/usr/bin/env node
// peaqos-mock-api --port N: the stateful Machine Markets mock over HTTP (--help for the options).
import { ensureBuilt } from './ensure-built.js';

ensureBuilt();
const { main } = await import('../dist/mocks/machine-markets/serve.js');
await main(process.argv.slice(2));
