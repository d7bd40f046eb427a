import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { freePort } from './server.js';
import { serverNodeOptions } from '../../src/supported-runtime.js';

/** The production command's entry point (package.json `start`, the Dockerfile's CMD, the systemd unit). */
export const SERVER_ENTRY = 'dist/src/server.js';

/** Node's arguments for the server on this Node.js, as `npm start` and the image give them. */
export const SERVER_ARGUMENTS = [...serverNodeOptions(), SERVER_ENTRY];

/** A Gatehouse started as its own process (`node dist/src/server.js`), as operators run it. */
export interface GatehouseProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  issuer: string;
  port: number;
  /** Resolves with the exit code, or the signal's name when killed. */
  exited: Promise<number | string>;
}

/**
 * Spawns a server with the test environment plus `env` (PORT and ISSUER
 * default to a free port) and waits until /readyz answers 200.
 */
export async function spawnGatehouse(env: Record<string, string> = {}): Promise<GatehouseProcess> {
  const port = Number(env.PORT ?? await freePort());
  const child = spawn(process.execPath, SERVER_ARGUMENTS, {
    env: { ...process.env, LOG_LEVEL: 'warn', ISSUER: `http://localhost:${port}`, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i += 1) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try { if ((await fetch(`${url}/readyz`)).ok) break; } catch { /* not listening yet */ }
    if (i >= 200) { child.kill('SIGKILL'); throw new Error('server did not become ready'); }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, pid: child.pid!, url, issuer: env.ISSUER ?? `http://localhost:${port}`, port, exited };
}

/** Resident set size of a process in KiB (Linux /proc). */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]);
}

/** The V8 heap in use, from the process's own /metrics (prom-client's default metrics). */
export async function heapUsedBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = /^gatehouse_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  if (!match) throw new Error(`no heap metric at ${url}/metrics`);
  return Number(match[1]);
}
