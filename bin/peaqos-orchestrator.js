#!/usr/bin/env node
// peaqos-orchestrator serve | --help | --version
import { ensureBuilt } from './ensure-built.js';

ensureBuilt();
const { main } = await import('../dist/src/main.js');
await main(process.argv.slice(2));
