#!/usr/bin/env node
/**
 * Prints the Node options the server is started with on the Node.js that
 * runs this (`npm start`: `exec node $(node dist/src/server-node-options.js)
 * dist/src/server.js`). They depend on the version: Node 24 refuses the
 * option Node 22 needs, and `npm start` runs whatever `node` is on the PATH
 * once the project's own Node 22 (a dev dependency) is pruned.
 */
import { serverNodeOptions } from './supported-runtime.js';

process.stdout.write(`${serverNodeOptions().join(' ')}\n`);
