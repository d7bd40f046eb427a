import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, posix, relative } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { settings } from '../../config/defaults.js';
import { SECRETS_KEY_FILE } from '../../src/config/secrets-key.js';
import { VIEWS_DIR } from '../../src/http/views.js';
import { SERVER_ARGUMENTS, SERVER_ENTRY, spawnGatehouse } from '../support/process.js';
import { SERVER_NODE_OPTIONS } from '../../src/supported-runtime.js';
import { freePort, skipBecause, tempDir } from '../support/server.js';
import { sleep, until } from '../support/waiting.js';
import { parseYamlSubset, type YamlMap, type YamlValue } from '../support/yaml-subset.js';

/**
 * Issue 17, packaging: this machine has no container runtime, so the image
 * and the unit are checked the way that is possible here. Their command is
 * the one the suite runs, every path they name exists, the health check is
 * executed against a real server, and the image's command is run as PID 1 of
 * its own PID namespace (what a container gives it).
 */

const run = promisify(execFile);
// The server's grace period (src/server.ts: 10 s, 2 s more for a primary), and a margin.
const EXIT_WITHIN_MS = 15_000;
const SERVER_GRACE_S = 12;

interface Instruction { keyword: string; args: string; line: number }
interface Stage { from: string; name?: string; instructions: Instruction[] }

/** The Dockerfile's stages: continuation lines joined, comments dropped. */
function dockerfileStages(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#.*)?$/.test(line)) continue;
    while (line.endsWith('\\')) line = `${line.slice(0, -1)} ${lines[(i += 1)]!.trim()}`;
    const [, keyword, args] = /^\s*(\w+)\s+(.*)$/.exec(line) ?? [];
    if (!keyword || args === undefined) throw new Error(`Dockerfile line ${start + 1}: ${line}`);
    const instruction = { keyword: keyword.toUpperCase(), args: args.trim(), line: start + 1 };
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/);
      stages.push({ from: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile line ${start + 1}: ${keyword} before FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

function all(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword);
}

/** An exec-form argument list (a JSON array); shell form would put /bin/sh in front as PID 1. */
function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((arg) => typeof arg === 'string')) throw new Error(`not exec form: ${args}`);
  return parsed;
}

/** COPY's flags, sources and destination. */
function copyArgs(instruction: Instruction): { from?: string; sources: string[]; destination: string } {
  const words = instruction.args.split(/\s+/);
  const flags = words.filter((word) => word.startsWith('--'));
  const paths = words.filter((word) => !word.startsWith('--'));
  const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
}

/** A path inside the image: relative ones against the stage's WORKDIR at that instruction. */
function imagePath(stage: Stage, instruction: Instruction, path: string): string {
  const workdir = all(stage, 'WORKDIR').filter((w) => w.line < instruction.line).at(-1)?.args ?? '/';
  return posix.resolve(workdir, path);
}

/** Every file the compiled module imports, transitively (relative imports only). */
async function importGraph(entry: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const pending = [normalize(entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await readFile(file, 'utf8');
    for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      pending.push(normalize(join(dirname(file), specifier!)));
    }
  }
  return seen;
}

/** The health check's script (`node -e SCRIPT`), run as the image runs it, against PORT. */
async function healthCheckExitCode(script: string, port: number): Promise<number> {
  try {
    await run(process.execPath, ['-e', script], { env: { ...process.env, PORT: String(port) }, timeout: 10_000 });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

function map(value: YamlValue | undefined, what: string): YamlMap {
  if (value === undefined || typeof value === 'string' || Array.isArray(value)) throw new Error(`${what} is not a map`);
  return value;
}

describe('packaging: the Dockerfile', () => {
  let stages: Stage[];
  let runtime: Stage;
  let ignored: string[];

  before(async () => {
    stages = dockerfileStages(await readFile('Dockerfile', 'utf8'));
    runtime = stages.at(-1)!;
    ignored = (await readFile('.dockerignore', 'utf8')).split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  });

  it('builds in one stage and runs from another, both on the official Node 22 image the engines field asks for', async () => {
    expect(stages.length).to.be.at.least(2);
    const engines = (JSON.parse(await readFile('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
    expect(engines).to.equal('>=22');
    for (const stage of stages) expect(stage.from).to.match(/^node:22-/);
    const build = stages[0]!;
    expect(all(build, 'RUN').map((r) => r.args).join('\n')).to.match(/npm ci\b/).and.match(/npm run build\b/);
    // The runtime stage installs no dev dependency (TypeScript, mocha, the `node` binary package).
    expect(all(runtime, 'RUN').map((r) => r.args).join('\n')).to.match(/npm ci --omit=dev\b/);
  });

  it('runs as an unprivileged user in the final stage', () => {
    const user = all(runtime, 'USER').at(-1)?.args;
    expect(user, 'USER in the final stage').to.be.a('string');
    expect(user).not.to.match(/^(root|0)(:|$)/);
  });

  it('runs the production command, `node` with the options and the file the suite and `npm start` run, as PID 1 (exec form: no shell)', async () => {
    const cmd = all(runtime, 'CMD');
    expect(cmd).to.have.length(1);
    // The image's Node is the latest 22 (above), which takes the options.
    expect(execForm(cmd[0]!.args)).to.deep.equal(['node', ...SERVER_NODE_OPTIONS, SERVER_ENTRY]);
    expect(all(runtime, 'ENTRYPOINT'), 'no ENTRYPOINT in front of it').to.have.length(0);
    const scripts = (JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.start).to.equal(`exec node $(node dist/src/server-node-options.js) ${SERVER_ENTRY}`);
    // Which options depends on the Node that runs `npm start` (Node 24 refuses Node 22's).
    const printed = (await run(process.execPath, ['dist/src/server-node-options.js'])).stdout.trim();
    expect(printed).to.equal(SERVER_ARGUMENTS.slice(0, -1).join(' '));
    // The in-process servers of the test suite run as the production ones do.
    const mocha = JSON.parse(await readFile('.mocharc.json', 'utf8')) as { 'node-option'?: string[] };
    expect((mocha['node-option'] ?? []).map((option) => `--${option}`)).to.include.members([...SERVER_NODE_OPTIONS]);
    expect(all(runtime, 'STOPSIGNAL').map((s) => s.args)).to.deep.equal(['SIGTERM']);
  });

  it('health-checks /healthz in exec form, with node (the image has no curl)', () => {
    const [healthcheck, ...more] = all(runtime, 'HEALTHCHECK');
    expect(more).to.have.length(0);
    const [, options, args] = /^((?:--\S+\s+)*)CMD\s+(\[.*\])$/.exec(healthcheck!.args) ?? [];
    expect(args, 'HEALTHCHECK [OPTIONS] CMD ["…"]').to.be.a('string');
    const [node, flag, script] = execForm(args!);
    expect([node, flag]).to.deep.equal(['node', '-e']);
    expect(script).to.include('/healthz').and.include('process.env.PORT');
    // Docker's timeout bounds the probe: the script's own abort must come first.
    const timeout = /--timeout=(\d+)s/.exec(options!)?.[1];
    const abort = /AbortSignal\.timeout\((\d+)\)/.exec(script!)?.[1];
    expect(Number(abort)).to.be.below(Number(timeout) * 1000);
  });

  it('copies only paths that exist in the repository and that .dockerignore lets through', () => {
    const sources = stages.flatMap((stage) => all(stage, 'COPY').map(copyArgs)).filter((copy) => !copy.from).flatMap((copy) => copy.sources);
    expect(sources.length).to.be.above(0);
    for (const source of sources) {
      expect(existsSync(source), `${source} exists`).to.equal(true);
      expect(ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `${source} is not ignored`).to.equal(false);
    }
  });

  it('ignores local state in the build context: node_modules, dist, .git and the embedded data folder', () => {
    expect(ignored).to.include.members(['node_modules', 'dist', '.git', settings.dataDir.default as string]);
  });

  it('puts every file the server and the CLI import, and the page templates, where they look for them', async () => {
    const build = stages[0]!;
    const imageFiles = new Map<string, string>(); // image path -> what provides it
    for (const copy of all(runtime, 'COPY')) {
      const { from, sources, destination } = copyArgs(copy);
      for (const source of sources) {
        const target = sources.length === 1 && !destination.endsWith('/') ? destination : posix.join(destination, posix.basename(source));
        imageFiles.set(imagePath(runtime, copy, target), from ? `${from}:${source}` : source);
      }
    }
    const workdir = all(runtime, 'WORKDIR').at(-1)!.args;
    const providerOf = (repoPath: string) => [...imageFiles].find(([imageDir]) => posix.join(workdir, repoPath).startsWith(`${imageDir}/`) || posix.join(workdir, repoPath) === imageDir);

    // The compiled server and CLI, and all they import, come from the build stage's dist/...
    const graph = new Set([...await importGraph(SERVER_ENTRY), ...await importGraph('dist/src/cli/main.js')]);
    expect(graph.size).to.be.above(50);
    const buildCopies = all(build, 'COPY').map(copyArgs).flatMap((copy) => copy.sources);
    for (const file of graph) {
      const provider = providerOf(relative('.', file));
      expect(provider, `${file} is copied into the image`).not.to.equal(undefined);
      expect(provider![1], `${file} comes from the build stage`).to.match(new RegExp(`^${build.name}:/app/dist/`));
      // ...which compiled it from a source folder it copied in.
      const sourceFolder = relative('dist', file).split('/')[0]!;
      expect(buildCopies, `the build stage copies ${sourceFolder}`).to.include(sourceFolder);
    }
    // The templates and stylesheet, found relative to the compiled code (src/http/views.ts).
    expect(providerOf(relative('.', VIEWS_DIR))?.[1]).to.equal('views');
    // package.json beside dist/: its "type": "module" is what makes Node load dist/ as ES modules.
    expect(providerOf('package.json')?.[1]).to.equal('package.json');
  });
});

describe('packaging: the image command and its health check against a real server', function () {
  this.timeout(90_000);
  const started: ChildProcess[] = [];
  let dataDir: string;
  let healthScript: string;

  before(async () => {
    const runtime = dockerfileStages(await readFile('Dockerfile', 'utf8')).at(-1)!;
    healthScript = execForm(/CMD\s+(\[.*\])$/.exec(all(runtime, 'HEALTHCHECK')[0]!.args)![1]!)[2]!;
  });
  beforeEach(async () => { dataDir = await tempDir(); });
  afterEach(async () => {
    for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('the health check exits 0 while the server runs and 1 once it has stopped', async () => {
    const server = await spawnGatehouse({ GATEHOUSE_DATA_DIR: dataDir });
    started.push(server.child);
    expect(await healthCheckExitCode(healthScript, server.port)).to.equal(0);
    server.child.kill('SIGTERM');
    expect(await server.exited).to.equal(0);
    expect(await healthCheckExitCode(healthScript, server.port)).to.equal(1);
  });

  it('the health check exits 1 when /healthz does not answer 2xx', async () => {
    // A listener that answers every request with 503: the check reads the status, not only the connection.
    const port = await freePort();
    const stub = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => { s.statusCode = 503; s.end(); }).listen(${port}, '127.0.0.1', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(stub);
    await new Promise((resolve) => stub.stdout!.once('data', resolve));
    expect(await healthCheckExitCode(healthScript, port)).to.equal(1);
  });

  /**
   * As PID 1 of a PID namespace, which is what a container makes of CMD, a
   * signal without a handler is ignored; `unshare` gives the same here.
   */
  describe('as PID 1', () => {
    let unshare: string[];

    before(async function () {
      unshare = ['--pid', '--fork', '--kill-child', '--map-root-user'];
      try { execFileSync('unshare', [...unshare, 'true'], { stdio: 'ignore' }); } catch { skipBecause(this, 'unshare cannot create a PID namespace here'); }
    });

    /** The image's CMD in a PID namespace; resolves with the PID (in this namespace) of its PID 1. */
    async function startAsPid1(env: NodeJS.ProcessEnv): Promise<{ pid: number; wrapper: ChildProcess; exited: Promise<number | string> }> {
      const wrapper = spawn('unshare', [...unshare, process.execPath, SERVER_ENTRY], { env, stdio: ['ignore', 'ignore', 'inherit'] });
      started.push(wrapper);
      const exited = new Promise<number | string>((resolve) => wrapper.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
      let pid: number | undefined;
      await until(() => {
        try { pid = Number(execFileSync('pgrep', ['-P', String(wrapper.pid)], { encoding: 'utf8' }).trim()); } catch { /* not forked yet */ }
        return Boolean(pid);
      }, 10_000);
      return { pid: pid!, wrapper, exited };
    }

    async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
      return Promise.race([promise, sleep(ms).then(() => { throw new Error(`still running ${ms} ms after SIGTERM`); })]);
    }

    /** The environment of an embedded server whatever the suite's mode (the data folder is the point). */
    function embeddedEnv(port: number): NodeJS.ProcessEnv {
      const { DATABASE_URL: _database, REDIS_URL: _redis, SECRETS_KEY: _key, ...env } = process.env;
      return { ...env, PORT: String(port), ISSUER: `http://localhost:${port}`, GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    }

    async function readyAsPid1(port: number, exited: Promise<number | string>): Promise<void> {
      for (let ready = false; !ready; await sleep(100)) {
        expect(await Promise.race([exited, sleep(0).then(() => 'running')]), 'still running').to.equal('running');
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      }
    }

    for (const workers of process.env.DATABASE_URL ? ['1', '2'] : ['1']) {
      it(`SIGTERM stops a running server of ${workers} worker(s) with exit code 0`, async () => {
        const port = await freePort();
        const { pid, exited } = await startAsPid1({ ...process.env, PORT: String(port), ISSUER: `http://localhost:${port}`, GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', WEB_CONCURRENCY: workers });
        await readyAsPid1(port, exited);
        process.kill(pid, 'SIGTERM');
        expect(await within(exited, EXIT_WITHIN_MS)).to.equal(0);
      });
    }

    it('a server killed as PID 1 starts again on the same embedded data (its own stale lock names PID 1 too)', async () => {
      const port = await freePort();
      const first = await startAsPid1(embeddedEnv(port));
      await readyAsPid1(port, first.exited);
      process.kill(first.pid, 'SIGKILL');
      await first.exited;
      expect(existsSync(join(dataDir, 'gatehouse.lock')), 'the killed server left its lock').to.equal(true);
      const second = await startAsPid1(embeddedEnv(port));
      await readyAsPid1(port, second.exited);
      process.kill(second.pid, 'SIGTERM');
      expect(await within(second.exited, EXIT_WITHIN_MS)).to.equal(0);
    });

    it('SIGTERM during start-up (before it serves) stops it too, instead of being ignored', async () => {
      // The embedded database whatever the suite's mode: opening a new one takes seconds, a wide start-up window.
      const port = await freePort();
      const { pid, exited } = await startAsPid1(embeddedEnv(port));
      // Start-up has begun once it writes the embedded database's key, before it opens the database.
      // (Earlier, while Node loads the modules, a PID 1 ignores the signal whatever the code does:
      // Node's own bootstrap handler swallows it. That lasts a fraction of a second.)
      await until(() => existsSync(join(dataDir, SECRETS_KEY_FILE)), 20_000);
      // It binds its port first and answers 503 "starting" until its storage is open.
      const started = await fetch(`http://127.0.0.1:${port}/readyz`).then((reply) => reply.ok, () => false);
      expect(started, 'the signal comes before the server has started').to.equal(false);
      process.kill(pid, 'SIGTERM');
      expect(await within(exited, EXIT_WITHIN_MS)).to.equal(0);
    });
  });
});

describe('packaging: compose.yaml', () => {
  let services: YamlMap;

  before(async () => {
    services = map(parseYamlSubset(await readFile('compose.yaml', 'utf8')).services, 'services');
  });

  it('runs gatehouse beside postgres and redis, starting once both report healthy', () => {
    expect(services).to.have.keys('gatehouse', 'postgres', 'redis');
    const gatehouse = map(services.gatehouse, 'gatehouse');
    expect(gatehouse.build).to.equal('.');
    const dependsOn = map(gatehouse.depends_on, 'depends_on');
    for (const name of ['postgres', 'redis']) {
      expect(map(dependsOn[name], name).condition).to.equal('service_healthy');
      const test = map(map(services[name], name).healthcheck, `${name} healthcheck`).test;
      expect(test, `${name} has an exec-form health check`).to.be.an('array').with.property('0', 'CMD');
    }
  });

  it('names only settings Gatehouse reads, and points them at the compose services', () => {
    const environment = map(map(services.gatehouse, 'gatehouse').environment, 'environment');
    const documented = new Set(Object.values(settings).map((setting) => setting.env));
    for (const name of Object.keys(environment)) expect(documented, `${name} is a documented setting`).to.include(name);
    expect(environment.DATABASE_URL).to.match(/^postgres:\/\/([^:]+):([^@]+)@postgres:5432\/(\w+)$/);
    const [, user, password, database] = /^postgres:\/\/([^:]+):([^@]+)@postgres:5432\/(\w+)$/.exec(String(environment.DATABASE_URL))!;
    expect(map(services.postgres, 'postgres').environment).to.deep.equal({ POSTGRES_USER: user, POSTGRES_PASSWORD: password, POSTGRES_DB: database });
    expect(environment.REDIS_URL).to.match(/^redis:\/\/redis:6379\/\d+$/);
    // With DATABASE_URL the key is required (src/config): compose refuses to start without it rather than inventing one.
    expect(environment.SECRETS_KEY).to.match(/^\$\{SECRETS_KEY:\?[^}]+\}$/);
  });

  it('gives the server longer to stop than its own grace period', () => {
    const grace = /^(\d+)s$/.exec(String(map(services.gatehouse, 'gatehouse').stop_grace_period))?.[1];
    expect(Number(grace)).to.be.above(SERVER_GRACE_S);
  });
});

describe('packaging: the systemd unit', () => {
  const unitPath = 'deploy/systemd/gatehouse.service';
  let service: Map<string, string[]>;

  before(async () => {
    service = new Map();
    let section = '';
    for (const line of (await readFile(unitPath, 'utf8')).split('\n')) {
      if (/^\s*([#;].*)?$/.test(line)) continue;
      const header = /^\[(\w+)\]$/.exec(line);
      if (header) { section = header[1]!; continue; }
      const [, key, value] = /^(\w+)=(.*)$/.exec(line) ?? [];
      if (!key || section !== 'Service') continue;
      service.set(key, [...service.get(key) ?? [], value!]);
    }
  });

  const one = (key: string) => {
    const values = service.get(key) ?? [];
    expect(values, key).to.have.length(1);
    return values[0]!;
  };

  it('starts node with the file the suite and `npm start` run, from the install folder, without npm or a shell', () => {
    const workingDirectory = one('WorkingDirectory');
    expect(one('ExecStart')).to.equal(`/usr/bin/node ${posix.join(workingDirectory, SERVER_ENTRY)}`);
  });

  it('stops with SIGTERM and waits longer than the grace period before SIGKILL; restarts only after a failure', () => {
    expect(one('KillSignal')).to.equal('SIGTERM');
    expect(Number(one('TimeoutStopSec'))).to.be.above(SERVER_GRACE_S);
    expect(one('Restart')).to.equal('on-failure');
  });

  it('runs as an unprivileged user with a data folder it owns', () => {
    expect(one('User')).not.to.match(/^(root|0)$/);
    const environment = service.get('Environment') ?? [];
    expect(environment).to.include(`${settings.dataDir.env}=/var/lib/${one('StateDirectory')}`);
  });

  it('passes systemd-analyze verify', async function () {
    this.timeout(30_000);
    try { execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' }); } catch { skipBecause(this, 'systemd-analyze is not installed'); }
    // verify checks that ExecStart's program exists: use this machine's node in a copy.
    const dir = await tempDir();
    try {
      const copy = join(dir, 'gatehouse.service');
      await writeFile(copy, (await readFile(unitPath, 'utf8')).replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
      const { stderr } = await run('systemd-analyze', ['verify', copy]);
      expect(stderr).to.equal('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
