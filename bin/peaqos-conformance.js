#!/usr/bin/env node
// peaqos-conformance --base-url URL [...]: checks any deployment against openapi.yaml (--help for the options).
import { ensureBuilt } from './ensure-built.js';

ensureBuilt();
await import('../dist/conformance/cli.js');
