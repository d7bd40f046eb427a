/**
 * `npm run bench:memory`: does the server's memory stay flat while it issues
 * a million tokens? Starts Gatehouse on the configured storage
 * (DATABASE_URL / REDIS_URL, else embedded), issues BENCH_TOKENS
 * (default 1,000,000) opaque client_credentials tokens from a separate
 * autocannon process, samples the server's RSS every 2 s, and reports RSS
 * after warm-up against the end of the run (the issue's bound: ±10 %).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { basic } from './mint.js';
import { serverNodeOptions } from '../src/supported-runtime.js';

const run = promisify(execFile);
const NODE = process.execPath;
const TOKENS = Number(process.env.BENCH_TOKENS ?? 1_000_000);
const RESULTS = process.env.BENCH_RESULTS_DIR ?? 'bench/results';

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}


async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gh-memory-'));
  const port = await freePort();
  const env = {
    ...process.env, GATEHOUSE_DATA_DIR: dataDir, PORT: String(port), ISSUER: `http://localhost:${port}`, LOG_LEVEL: 'info', WEB_CONCURRENCY: '1',
  };
  const server = spawn(NODE, [...serverNodeOptions(), 'dist/src/server.js'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; ; i += 1) {
      if (i > 600) throw new Error('server did not start');
      if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { stdout } = await run(NODE, ['dist/src/cli/main.js', 'client', 'create', '--name', `memory ${Date.now()}`, '--grant-types', 'client_credentials', '--scope', 'read', '--json'], { env });
    const client = JSON.parse(stdout) as { client_id: string; client_secret: string };
    const auth = basic(client.client_id, client.client_secret);

    const samples: Array<{ seconds: number; rssMiB: number }> = [];
    const started = Date.now();
    const sampler = setInterval(() => {
      rssMiB(server.pid!).then((rss) => samples.push({ seconds: Math.round((Date.now() - started) / 1000), rssMiB: Math.round(rss) }), () => {});
    }, 2000);
    const load = await run(NODE, ['node_modules/autocannon/autocannon.js', '-j', '-c', '50', '-a', String(TOKENS), '-m', 'POST',
      '-H', `authorization=${auth}`, '-H', 'content-type=application/x-www-form-urlencoded', '-b', 'grant_type=client_credentials&scope=read',
      `http://127.0.0.1:${port}/token`], { maxBuffer: 64 * 1024 * 1024 });
    clearInterval(sampler);
    const result = JSON.parse(load.stdout) as { requests: { average: number; total: number }; errors: number; non2xx: number; '2xx': number };

    // Warm-up: the first tenth of the run (JIT, pools, caches filling).
    const warm = samples.filter((s) => s.seconds >= (samples.at(-1)?.seconds ?? 0) / 10);
    const baseline = warm[0]?.rssMiB ?? 0;
    const end = samples.at(-1)?.rssMiB ?? 0;
    const peak = Math.max(...warm.map((s) => s.rssMiB));
    const report = {
      at: new Date().toISOString(),
      storage: process.env.DATABASE_URL ? `PostgreSQL${process.env.REDIS_URL ? ' + Redis' : ''}` : 'embedded PGlite',
      tokens: result['2xx'], errors: result.errors + result.non2xx, averageRps: Math.round(result.requests.average),
      rssMiB: { afterWarmUp: baseline, end, peak, changePercent: baseline ? Math.round(((end - baseline) / baseline) * 1000) / 10 : 0 },
      samples,
    };
    await mkdir(RESULTS, { recursive: true });
    const file = join(RESULTS, `memory-${report.at.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${report.tokens} tokens (${report.errors} errors) at ${report.averageRps} req/s on ${report.storage}; `
      + `RSS after warm-up ${baseline} MiB, at the end ${end} MiB (${report.rssMiB.changePercent}%), peak ${peak} MiB\nWritten to ${file}\n`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:memory: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
