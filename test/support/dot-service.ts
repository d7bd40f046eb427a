import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './server.js';

const run = promisify(execFile);

/** The DOT fixture project (a tiny Django site with DOT's urls). */
export const DOT_PROJECT = resolve('test/fixtures/dot-service');
// Debian's python3 (where apt installs Django), not a pyenv shim's.
const PYTHON = '/usr/bin/python3';
const PACKAGES = ['python3-django-oauth-toolkit', 'python3-psycopg2', 'python3-bcrypt', 'python3-argon2'];
/** The PostgreSQL server the source databases are created on (always there on this machine and in CI). */
const SOURCE_SERVER = process.env.DOT_SOURCE_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface SeededUser { username: string; password: string; hasher: string; hash: string }
export interface SeededApplication { client_id: string; client_secret: string; client_type: string; grant: string }

async function pythonHasDot(): Promise<boolean> {
  try {
    await run(PYTHON, ['-c', 'import django, oauth2_provider, psycopg2, bcrypt, argon2']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs Debian's django-oauth-toolkit and its drivers if they are missing
 * (as root, with apt-get); answers why not when that cannot be done.
 */
export async function ensureDjangoOAuthToolkit(): Promise<string | undefined> {
  if (await pythonHasDot()) return undefined;
  if (process.getuid?.() !== 0) return `python3-django-oauth-toolkit is not installed and installing it needs root (${PACKAGES.join(' ')})`;
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env, timeout: 300_000 });
    await run('apt-get', ['install', '-y', '-qq', ...PACKAGES], { env, timeout: 600_000 });
  } catch (error) {
    return `apt-get could not install ${PACKAGES.join(' ')}: ${(error as Error).message.split('\n')[0]}`;
  }
  return await pythonHasDot() ? undefined : 'python3-django-oauth-toolkit installed but not importable by /usr/bin/python3';
}

/** Whether the source PostgreSQL server answers; the reason when it does not. */
export async function sourceServerProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: SOURCE_SERVER, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    return `no PostgreSQL at ${SOURCE_SERVER} for the DOT source database: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function onServer<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SOURCE_SERVER });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A database on the source server, created empty; `drop` removes it. */
export async function createSourceDatabase(prefix = 'gh_dot_src'): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await onServer((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(SOURCE_SERVER);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => onServer((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** A django-oauth-toolkit service on its own PostgreSQL database: migrate, seed, serve. */
export class DotService {
  private server?: ChildProcess;
  baseUrl = '';

  private constructor(readonly database: { name: string; url: string; drop(): Promise<void> }) {}

  /** A new database with the schema Django's and DOT's own migrations create. */
  static async create(prefix?: string): Promise<DotService> {
    const service = new DotService(await createSourceDatabase(prefix));
    await service.python('manage.py', 'migrate', '--verbosity', '0');
    return service;
  }

  private env() {
    const url = new URL(this.database.url);
    return {
      ...process.env, DOT_DB_NAME: this.database.name, DOT_DB_HOST: url.hostname, DOT_DB_PORT: url.port || '5432',
      DOT_DB_USER: decodeURIComponent(url.username), DOT_DB_PASSWORD: decodeURIComponent(url.password),
    };
  }

  /** Runs a script of the fixture project (manage.py, seed.py); its stdout. */
  async python(...args: string[]): Promise<string> {
    const { stdout } = await run(PYTHON, args, { cwd: DOT_PROJECT, env: this.env(), maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
    return stdout;
  }

  async seed(): Promise<{ users: SeededUser[]; applications: SeededApplication[] }> {
    return JSON.parse(await this.python('seed.py', 'setup'));
  }

  /** Serves DOT's endpoints (stdlib WSGI server) on a free port until `stop`. */
  async serve(): Promise<void> {
    const port = await freePort();
    const child = spawn(PYTHON, ['serve.py', String(port)], { cwd: DOT_PROJECT, env: this.env(), stdio: ['ignore', 'pipe', 'inherit'] });
    this.server = child;
    await new Promise<void>((resolveReady, reject) => {
      child.once('exit', (code) => reject(new Error(`the DOT service exited with ${code}`)));
      child.stdout!.on('data', (chunk: Buffer) => { if (chunk.toString().includes('listening')) resolveReady(); });
    });
    this.baseUrl = `http://127.0.0.1:${port}`;
  }

  /** Posts a form to one of DOT's endpoints (`/o/token/`, `/o/revoke_token/`). */
  async post(path: string, form: Record<string, string>, client?: { id: string; secret: string }): Promise<{ status: number; json: Record<string, unknown> }> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (client) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
    const response = await fetch(`${this.baseUrl}${path}`, { method: 'POST', headers, body: new URLSearchParams(form) });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) as Record<string, unknown> : {} };
  }

  /** Stops the server, by its PID. */
  async stopServing(): Promise<void> {
    const child = this.server;
    this.server = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    process.kill(child.pid!, 'SIGTERM');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stopServing();
    await this.database.drop();
  }
}
