import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

/**
 * Preloaded into a spawned process (`node --import …/module-recorder.js`):
 * records the URL of every module the process loads, ES modules and
 * CommonJS alike, and writes them, one a line, to the file named by
 * MODULE_RECORD when the process exits. test/cli/lazy-loading.test.ts reads
 * it to tell what a CLI start loaded.
 */
const record = process.env.MODULE_RECORD;
if (!record) throw new Error('module-recorder: set MODULE_RECORD to the file to write');

const loaded = new Set<string>();
registerHooks({
  load(url, context, nextLoad) {
    loaded.add(url);
    return nextLoad(url, context);
  },
});
process.on('exit', () => writeFileSync(record, [...loaded].map((url) => `${url}\n`).join('')));
