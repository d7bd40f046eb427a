import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/load.js';

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

/** The built server of this very build (not dist/), started with `env` only: its exit code and what it wrote. */
function runServer(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const entry = fileURLToPath(new URL('../../src/server.js', import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += String(chunk); });
    child.stderr.on('data', (chunk: Buffer) => { output += String(chunk); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

/**
 * Values that passed validation, or slipped past it, and failed later with a
 * stack trace or a wrong issuer: numbers ajv coerced from other notations,
 * a default issuer built from PORT's text, URLs whose structure no pattern
 * checked, and two listeners on one port.
 */
describe('configuration: port numbers, issuer and Redis URL structure', () => {
  it('takes numbers only in plain decimal digits, for PORT and every other whole-number setting', () => {
    for (const written of ['0x1d5c', '1e3', '07262', '+80', '1.5', 'Infinity']) {
      expect(refusal({ PORT: written })).to.include(`PORT must be a whole number written in decimal digits, e.g. 3000 (got ${JSON.stringify(written)})`);
    }
    expect(refusal({ ACCESS_TOKEN_TTL: '36e2' })).to.include('ACCESS_TOKEN_TTL must be a whole number written in decimal digits');
    expect(refusal({ METRICS_PORT: '0x2000' })).to.include('METRICS_PORT must be a whole number written in decimal digits');
    expect(loadConfig({ PORT: '7262', AUDIT_RETENTION_DAYS: '0' })).to.include({ port: 7262, auditRetentionDays: 0 });
  });

  it('refuses PORT=0 (a port the system picks, which no issuer can name) and derives the issuer from the validated number', () => {
    expect(refusal({ PORT: '0' })).to.include('PORT must be >= 1');
    const message = refusal({ PORT: '0x1d5c' });
    expect(message.split('\n').filter((line) => line.startsWith('  - '))).to.have.length(1);
    expect(loadConfig({ PORT: '7262' }).issuer).to.equal('http://localhost:7262');
  });

  it('refuses an ISSUER with a path, naming ISSUER and why', () => {
    for (const issuer of ['http://localhost:7282/gh', 'https://example.com/auth/', 'https://example.com/a/b']) {
      const message = refusal({ ISSUER: issuer, TRUST_PROXY: 'true' });
      expect(message).to.match(/ISSUER must have no path \(got "\/[^"]+"\): Gatehouse serves its endpoints at the root of its host/);
    }
    expect(loadConfig({ ISSUER: 'https://id.example.com/', TRUST_PROXY: 'true' }).issuer).to.equal('https://id.example.com');
  });

  it('refuses a user name or password in ISSUER, without repeating it', () => {
    const message = refusal({ ISSUER: 'https://user:pw@id.example.com', TRUST_PROXY: 'true' });
    expect(message).to.include('ISSUER must not carry a user name or password');
    expect(message).not.to.include('pw@');
    expect(refusal({ ISSUER: 'https://user:pw@id.example.com/?x', TRUST_PROXY: 'true' })).not.to.include('pw@');
  });

  it('refuses a REDIS_URL whose database is not a number, naming REDIS_URL and not its password', () => {
    const message = refusal({ REDIS_URL: 'redis://:secret@127.0.0.1:6379/abc' });
    expect(message).to.include('REDIS_URL must name its database as a number after the host, e.g. redis://cache:6379/2 (got database "abc")');
    expect(message).not.to.include('secret');
    expect(refusal({ REDIS_URL: 'redis://127.0.0.1:6379?db=two' })).to.include('REDIS_URL must name its database as a number');
    for (const url of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/', 'redis://127.0.0.1:6379/7', 'rediss://u:p@cache:6380/15']) {
      expect(loadConfig({ REDIS_URL: url }).redisUrl).to.equal(url);
    }
  });

  it('refuses METRICS_PORT equal to PORT, naming both', () => {
    expect(refusal({ PORT: '9000', METRICS_PORT: '9000' })).to.include('METRICS_PORT must differ from PORT (both are 9000)');
    expect(refusal({ METRICS_PORT: '3000' })).to.include('METRICS_PORT must differ from PORT (both are 3000)');
  });

  it('the server exits 1 with one line per refused setting and no stack trace', async function () {
    this.timeout(30_000);
    const { code, output } = await runServer({ PORT: '0x1d5c', ISSUER: 'http://localhost:7282/gh', REDIS_URL: 'redis://127.0.0.1:6379/abc' });
    expect(code).to.equal(1);
    expect(output).to.include('PORT must be a whole number written in decimal digits');
    expect(output).to.include('ISSUER must have no path');
    expect(output).to.include('REDIS_URL must name its database as a number');
    expect(output).not.to.match(/\n\s+at /);
  });
});
