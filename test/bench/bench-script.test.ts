import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { tempDir } from '../support/folders.js';

const run = promisify(execFile);

/**
 * Not a timed test: it proves the benchmark script runs end to end (servers,
 * fixtures through the CLI, a load process, the report) and that Gatehouse
 * answered every request of the run without an error.
 */
describe('the benchmark script', () => {
  it('runs one-second scenarios after a warm-up, the code and refresh ones too, and writes a report with the ratio of every round and zero errors', async function () {
    this.timeout(240_000);
    const results = await tempDir('gh-bench-results-');
    try {
      await runsAndReports(results);
    } finally {
      await rm(results, { recursive: true, force: true });
    }
  });
});

/** Runs the script with one-second scenarios into `results` and checks its report. */
async function runsAndReports(results: string): Promise<void> {
  const env = { ...process.env, BENCH_RESULTS_DIR: results, BENCH_DURATION: '1', BENCH_ROUNDS: '2', BENCH_WARM_UP: '1', BENCH_CONNECTIONS: '5', BENCH_ONLY: 'client_credentials opaque,LOS dialect (opaque),authorization_code redemption,refresh rotation', BENCH_CODES: '100', LOG_LEVEL: 'warn' };
  const { stdout } = await run(process.execPath, ['dist/bench/run.js'], { env, maxBuffer: 16 * 1024 * 1024 });
  const file = /Written to (\S+)/.exec(stdout)?.[1];
  expect(file).to.be.a('string');
  type Sample = { total: number; errors: number; non2xx: number; cpuMsPerReq: number; machineCpuMsPerReq: number; storageCpuMsPerReq: number };
  const report = JSON.parse(await readFile(file!, 'utf8')) as { warmUpSeconds: number; rows: Array<{ scenario: string; gatehouse: Sample; baseline?: Sample; roundRatios?: number[] }> };
  expect(report.warmUpSeconds).to.equal(1);
  expect(report.rows.map((r) => r.scenario)).to.deep.equal(['client_credentials opaque', 'LOS dialect (opaque)', 'authorization_code redemption', 'refresh rotation']);
  for (const row of report.rows) {
    expect(row.gatehouse.total).to.be.greaterThan(0);
    expect(row.gatehouse.errors + row.gatehouse.non2xx).to.equal(0);
    // The whole machine worked at least as much as the server did (one 10 ms tick of reading skew allowed).
    expect(row.gatehouse.machineCpuMsPerReq * row.gatehouse.total + 10).to.be.at.least(row.gatehouse.cpuMsPerReq * row.gatehouse.total);
    expect(row.gatehouse.storageCpuMsPerReq).to.be.at.least(0);
    // The baseline's own fixtures (its codes, its rotation) must hold up too.
    expect(row.baseline!.errors + row.baseline!.non2xx, row.scenario).to.equal(0);
    // Each round's own ratio, beside the median's, so a reader sees the run's spread.
    expect(row.roundRatios, row.scenario).to.have.length(2);
    for (const ratio of row.roundRatios!) expect(ratio, row.scenario).to.be.greaterThan(0);
  }
  // One request per pre-minted code, on both sides, in each round.
  expect(report.rows[2]!.gatehouse.total).to.equal(100);
  expect(report.rows[2]!.baseline!.total).to.equal(100);
}
