import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import pg from 'pg';
import { migrations } from '../../adapters/sql/migrations.js';
import { runCliIn } from '../support/built-cli.js';
import { embeddedDataDir } from '../support/embedded-data.js';
import { skipBecause, storageMode } from '../support/server.js';

/**
 * `gatehouse migrate` says which migrations it applied. Every CLI command
 * opens storage the same way, migrating as it opens, so `migrate` used to
 * find nothing left and always answered `applied: []`.
 */
describe('gatehouse migrate', function () {
  this.timeout(60_000);
  const all = migrations.map((migration) => migration.id).sort();

  async function appliedBy(env: NodeJS.ProcessEnv): Promise<string[]> {
    const { code, stdout, stderr } = await runCliIn(env, ['migrate', '--json']);
    expect(code, stderr).to.equal(0);
    return ((JSON.parse(stdout) as { applied: string[] }).applied).sort();
  }

  it('on a new embedded folder without SECRETS_KEY says, on standard error, that it generated the key and that it must be backed up', async () => {
    const dataDir = await embeddedDataDir();
    try {
      const env = { ...process.env, DATABASE_URL: '', REDIS_URL: '', SECRETS_KEY: '', GATEHOUSE_DATA_DIR: dataDir };
      const first = await runCliIn(env, ['migrate', '--json']);
      expect(first.code, first.stderr).to.equal(0);
      // Before: the CLI had no logger, and the server that later found the key said nothing either.
      expect(first.stderr).to.include('SECRETS_KEY is not set: generated a key into the data folder; back it up');
      expect(JSON.parse(first.stdout)).to.have.property('applied');
      const second = await runCliIn(env, ['migrate', '--json']);
      expect(second.stderr, 'said once, when made').not.to.include('generated a key');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('on a new embedded folder reports every migration it applied, and nothing the second time', async () => {
    const dataDir = await embeddedDataDir();
    try {
      const env = { ...process.env, DATABASE_URL: '', REDIS_URL: '', GATEHOUSE_DATA_DIR: dataDir };
      expect(await appliedBy(env)).to.deep.equal(all);
      expect(await appliedBy(env)).to.deep.equal([]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('on a new PostgreSQL database reports every migration it applied, and nothing the second time', async function () {
    if (!storageMode.postgres) skipBecause(this, 'needs DATABASE_URL');
    const name = `gh_migrate_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    try {
      const url = new URL(process.env.DATABASE_URL!);
      url.pathname = `/${name}`;
      const env = { ...process.env, DATABASE_URL: url.toString(), REDIS_URL: '' };
      expect(await appliedBy(env)).to.deep.equal(all);
      expect(await appliedBy(env)).to.deep.equal([]);
    } finally {
      // FORCE: behind a pooler the pooler, not the finished CLI, may still hold connections.
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});
