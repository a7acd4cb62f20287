#!/usr/bin/env node
// peaqos-mock-mcr --port N: the mock peaqOS MCR over HTTP (--help for the options).
import { ensureBuilt } from './ensure-built.js';

ensureBuilt();
const { main } = await import('../dist/mocks/mcr/serve.js');
await main(process.argv.slice(2));
