/**
 * What the benchmark scripts share: starting a server process, running a
 * load process against it (autocannon, or bench/load-unique.ts for requests
 * that must each differ) and reading its result with the server's CPU time
 * meanwhile, and the CLI for fixtures.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { UniqueLoad } from './load-unique.js';
import { serverNodeOptions } from '../src/supported-runtime.js';

const run = promisify(execFile);
const NODE = process.execPath;
const PROFILE = process.env.BENCH_PROFILE_DIR;

export interface Target { name: string; url: string; pid: number }
export interface Request { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string }
/** One request sent over and over, or requests that must each differ, prepared afresh for each run of `seconds` (not timed). */
export type Load = Request | ((target: Target, seconds: number) => Promise<UniqueLoad>);
export interface Sample {
  rps: number; p50: number; p99: number; errors: number; non2xx: number; total: number;
  /** The server's own CPU (the process and its workers). */
  cpuMsPerReq: number;
  /** Every process on the machine (server, load generator, PostgreSQL, Redis): on a CPU-bound machine, throughput is about cores ÷ this. */
  machineCpuMsPerReq: number;
  /** PostgreSQL's and Redis's processes (zero for a server that stores nothing outside itself). */
  storageCpuMsPerReq: number;
  stealShare: number;
}

/** utime + stime of one process, in clock ticks (100 Hz). */
async function ownTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * The machine's CPU time so far, in clock ticks: in all, and what the
 * hypervisor gave to other guests (steal). On a shared virtual machine the
 * steal share swings with the neighbours' load and takes throughput with it,
 * so each sample reports it alongside the figures it distorts.
 */
async function machineTicks(): Promise<{ all: number; busy: number; steal: number }> {
  const [line] = (await readFile('/proc/stat', 'utf8')).split('\n', 1);
  const ticks = line!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = ticks;
  return { all: ticks.slice(0, 8).reduce((sum, t) => sum + t, 0), busy: user + nice + system + irq + softirq, steal: ticks[7] ?? 0 };
}

const STORAGE_PROCESSES = new Set(['postgres', 'redis-server', 'pgbouncer']);

/** CPU of every PostgreSQL backend and Redis server on the machine, in clock ticks (backends come and go; only the live ones count). */
async function storageTicks(): Promise<Map<number, number>> {
  const ticks = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (!STORAGE_PROCESSES.has(name) && !name.startsWith('postgres')) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
  }
  return ticks;
}

/** Ticks the storage processes used between two readings (a process that ended meanwhile counts what it used before the first). */
function storageUsed(before: Map<number, number>, after: Map<number, number>): number {
  let used = 0;
  for (const [pid, t] of after) used += t - (before.get(pid) ?? 0);
  return used;
}

/** CPU of a server and its workers (WEB_CONCURRENCY > 1 forks them), in clock ticks. */
export async function cpuTicks(pid: number): Promise<number> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).split(' ').filter(Boolean).map(Number);
  const ticks = await Promise.all([pid, ...children].map((p) => ownTicks(p).catch(() => 0)));
  return ticks.reduce((sum, t) => sum + t, 0);
}

/** Gatehouse's server as `npm start` runs it (its Node options for this Node.js), ready once /readyz answers. */
export function startGatehouseServer(env: Record<string, string>, port: number): Promise<ChildProcess> {
  return startServer('dist/src/server.js', env, '/readyz', port, serverNodeOptions());
}

export function startServer(script: string, env: Record<string, string>, readyPath: string, port: number, nodeOptions: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn(NODE, [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []), ...nodeOptions, script], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = async () => {
      if (child.exitCode !== null) return reject(new Error(`${script} exited with ${child.exitCode}`));
      try {
        if ((await fetch(`http://127.0.0.1:${port}${readyPath}`)).status < 500) return resolve(child);
      } catch { /* not yet */ }
      if (Date.now() - started > 60_000) return reject(new Error(`${script} did not start`));
      setTimeout(poll, 100);
    };
    void poll();
  });
}


export async function load(target: Target, request: Load, scratch: string, { connections, duration }: { connections: number; duration: number }): Promise<Sample> {
  if (typeof request === 'function') {
    const spec = join(scratch, 'load.json');
    await writeFile(spec, JSON.stringify(await request(target, duration)));
    return measure(target, ['dist/bench/load-unique.js', spec]);
  }
  const args = ['node_modules/autocannon/autocannon.js', '-j', '-c', String(connections), '-d', String(duration), '-m', request.method];
  for (const [name, value] of Object.entries(request.headers)) args.push('-H', `${name}=${value}`);
  if (request.body !== undefined) args.push('-b', request.body);
  args.push(`${target.url}${request.path}`);
  return measure(target, args);
}

/** Clock ticks (100 Hz) per request, in milliseconds. */
function perRequest(ticks: number, requests: number): number {
  return requests ? (ticks * 10) / requests : 0;
}

/** Runs a load process (its arguments to node) against `target` and reads its autocannon JSON, with the server's CPU meanwhile. */
export async function measure(target: Target, args: string[]): Promise<Sample> {
  const [before, machineBefore, storageBefore] = [await cpuTicks(target.pid), await machineTicks(), await storageTicks()];
  const { stdout } = await run(NODE, args, { maxBuffer: 64 * 1024 * 1024 });
  const [after, machineAfter, storageAfter] = [await cpuTicks(target.pid), await machineTicks(), await storageTicks()];
  const result = JSON.parse(stdout) as {
    requests: { average: number; total: number }; latency: { p50: number; p99: number }; errors: number; non2xx: number;
  };
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    total: result.requests.total,
    cpuMsPerReq: perRequest(after - before, result.requests.total),
    machineCpuMsPerReq: perRequest(machineAfter.busy - machineBefore.busy, result.requests.total),
    storageCpuMsPerReq: perRequest(storageUsed(storageBefore, storageAfter), result.requests.total),
    stealShare: (machineAfter.steal - machineBefore.steal) / Math.max(1, machineAfter.all - machineBefore.all),
  };
}

export async function cli(env: Record<string, string>, ...args: string[]): Promise<Record<string, string>> {
  const { stdout } = await run(NODE, ['dist/src/cli/main.js', ...args, '--json'], { env: { ...process.env, ...env } });
  return JSON.parse(stdout) as Record<string, string>;
}

