import { spawnSync } from 'node:child_process';
import { statSync, utimesSync } from 'node:fs';
import { expect } from 'chai';

const run = () => spawnSync(process.execPath, ['scripts/build-if-changed.mjs'], { encoding: 'utf8' });

/** Issue 17: `npm start` and `npm run cli` compile only when a source changed, and the CLI is executable. */
describe('build only when sources changed', function () {
  this.timeout(120_000);

  it('skips the compiler on an unchanged checkout, compiles after a change, and leaves the CLI executable', () => {
    expect(run().status).to.equal(0);
    const unchanged = run();
    expect(unchanged.status).to.equal(0);
    expect(unchanged.stderr).not.to.include('compiling');
    expect(statSync('dist/src/cli/main.js').mode & 0o111, 'the gatehouse bin is executable').to.equal(0o111);

    // A source saved again (same content): newer than the last build.
    const now = new Date();
    utimesSync('src/cli/main.ts', now, now);
    const changed = run();
    expect(changed.status).to.equal(0);
    expect(changed.stderr).to.include('compiling');
    expect(run().stderr).not.to.include('compiling');
  });
});
