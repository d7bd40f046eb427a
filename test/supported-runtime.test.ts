import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { CLI_ENTRY } from './support/built-cli.js';
import { SERVER_ENTRY } from './support/process.js';
import { skipBecause } from './support/server.js';
import { unsupportedRuntime } from '../src/supported-runtime.js';

const run = promisify(execFile);

describe('the Node.js Gatehouse runs on', () => {
  it('is 22 or later: an older version is named, with what to run instead', () => {
    expect(unsupportedRuntime('20.20.2')).to.match(/Node\.js 20\.20\.2 is not supported: Gatehouse needs Node\.js 22 or later/);
    expect(unsupportedRuntime('22.0.0')).to.equal(undefined);
    expect(unsupportedRuntime('24.3.1')).to.equal(undefined);
  });

  it('the server and the CLI, started by an older Node, exit 1 saying so before they read any setting', async function () {
    // The machine's own Node, where it is older than 22 (this one's is 20).
    const older = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path));
    const version = older && (await run(older, ['--version'])).stdout.trim().slice(1);
    if (!older || !version || !unsupportedRuntime(version)) skipBecause(this, 'no Node.js older than 22 on this machine');
    for (const entry of [SERVER_ENTRY, CLI_ENTRY]) {
      const outcome = await run(older!, [entry, 'client', 'list'], { env: { ...process.env, PORT: 'not a port' } }).then(() => ({ code: 0, stderr: '' }), (error: { code: number; stderr: string }) => error);
      expect(outcome.code, entry).to.equal(1);
      expect(outcome.stderr, entry).to.include(`gatehouse: Node.js ${version} is not supported`).and.not.include('PORT');
      // Before oidc-provider loads: its own warning came first, in other words.
      expect(outcome.stderr, entry).not.to.include('Unsupported runtime');
    }
  });
});
