/**
 * `npm run bench:import`: how fast, and in how much memory, does
 * `gatehouse import django-oauth-toolkit` bring a large DOT service across?
 *
 * The source is a DOT database made by Django's and DOT's own migrations,
 * filled by a load generator (test/fixtures/dot-service/seed.py `bulk`:
 * Django's ORM bulk_create) with BENCH_USERS users (default 100,000) and
 * BENCH_TOKENS tokens (default 200,000: half access tokens, half the refresh
 * tokens issued with them). Gatehouse imports into a fresh PostgreSQL
 * database (and REDIS_URL's Redis for access tokens, when set). The import
 * runs as its own process, as an operator runs it; its RSS is sampled every
 * 500 ms. Reports rows/s and RSS; both databases are dropped afterwards.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSourceDatabase, DotService, ensureDjangoOAuthToolkit } from '../test/support/dot-service.js';

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 200_000);

async function rssMiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const missing = await ensureDjangoOAuthToolkit();
  if (missing) throw new Error(missing);
  const source = await DotService.create('gh_dot_bench_src');
  const target = await createSourceDatabase('gh_dot_bench_target');
  try {
    const generated = Date.now();
    const counts = JSON.parse(await source.python('seed.py', 'bulk', String(USERS), String(TOKENS))) as Record<string, number>;
    process.stderr.write(`source: ${JSON.stringify(counts)} generated in ${((Date.now() - generated) / 1000).toFixed(1)} s\n`);

    const env = { ...process.env, DATABASE_URL: target.url, LOG_LEVEL: 'warn', SECRETS_KEY: process.env.SECRETS_KEY ?? randomBytes(32).toString('base64') };
    const started = Date.now();
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'import', 'django-oauth-toolkit', '--database-url', source.database.url, '--json', '--init'],
      { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const samples: Array<{ at: number; rssMiB: number }> = [];
    const sampler = setInterval(() => {
      void rssMiB(child.pid!).then((rss) => { if (rss) samples.push({ at: (Date.now() - started) / 1000, rssMiB: rss }); });
    }, 500);
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearInterval(sampler);
    const seconds = (Date.now() - started) / 1000;
    if (code !== 0) throw new Error(`the import exited with ${code}`);

    const summary = JSON.parse(stdout) as { tables: Record<string, { created: number; updated: number; unchanged: number; skipped: number }> };
    const rows = Object.values(summary.tables).reduce((sum, t) => sum + t.created + t.updated + t.unchanged + t.skipped, 0);
    const rss = samples.map((s) => s.rssMiB);
    const quarter = (q: number) => rss[Math.min(rss.length - 1, Math.floor((rss.length - 1) * q))]?.toFixed(0);
    const result = {
      users: USERS, tokens: TOKENS, rows, seconds: Number(seconds.toFixed(1)),
      rowsPerSecond: Math.round(rows / seconds),
      rssMiB: { peak: Math.max(...rss).toFixed(0), at25: quarter(0.25), at50: quarter(0.5), at75: quarter(0.75), atEnd: quarter(1) },
      storage: process.env.REDIS_URL ? 'postgres + redis' : 'postgres',
      tables: summary.tables,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await source.destroy();
    await target.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:import: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
