import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/waiting.js';
import { sqlDatabaseOf } from '../../adapters/factory.js';

const run = promisify(execFile);

describe('audit retention', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ AUDIT_RETENTION_DAYS: '60', SWEEP_INTERVAL: '1' });
  });

  after(() => server.stop());

  /** Writes one event `daysAgo` days in the past, marked so that the test finds only its own. */
  async function eventFrom(daysAgo: number, marker: string): Promise<void> {
    await sqlDatabaseOf(server.services.storage).query(
      "INSERT INTO audit_events (at, event, detail) VALUES (now() - make_interval(days => $1), 'retention.probe', jsonb_build_object('marker', $2::text))",
      [daysAgo, marker],
    );
  }

  async function ages(marker: string): Promise<number[]> {
    const { rows } = await sqlDatabaseOf(server.services.storage).query<{ days: number }>(
      "SELECT round(extract(epoch FROM now() - at) / 86400)::int AS days FROM audit_events WHERE event = 'retention.probe' AND detail->>'marker' = $1 ORDER BY at",
      [marker],
    );
    return rows.map((row) => row.days);
  }

  it('deletes events older than AUDIT_RETENTION_DAYS at each sweep and keeps the younger ones', async () => {
    const marker = randomUUID();
    await eventFrom(61, marker);
    await eventFrom(59, marker);
    await eventually(async () => !(await ages(marker)).includes(61), 5000);
    expect(await ages(marker)).to.deep.equal([59]);
  });

  it('prunes on demand with `gatehouse audit prune --older-than DAYS`, and audits the pruning', async () => {
    const marker = randomUUID();
    await eventFrom(40, marker);
    await eventFrom(20, marker);
    const env = { ...process.env, GATEHOUSE_DATA_DIR: server.config.dataDir, DATABASE_URL: process.env.DATABASE_URL ?? '', REDIS_URL: process.env.REDIS_URL ?? '' };
    const { stdout } = await run(process.execPath, ['dist/src/cli/main.js', 'audit', 'prune', '--older-than', '30', '--json'], { env });
    const result = JSON.parse(stdout) as { deleted: number; older_than_days: number };
    expect(result.older_than_days).to.equal(30);
    expect(result.deleted).to.be.at.least(1);
    expect(await ages(marker)).to.deep.equal([20]);
    const { rows } = await sqlDatabaseOf(server.services.storage).query<{ detail: Record<string, unknown> }>(
      "SELECT detail FROM audit_events WHERE event = 'audit.pruned' AND actor = 'cli' ORDER BY id DESC LIMIT 1",
    );
    expect(rows[0]?.detail).to.deep.equal({ older_than_days: 30, deleted: result.deleted });

    const refused = await run(process.execPath, ['dist/src/cli/main.js', 'audit', 'prune', '--older-than', '0'], { env }).then(() => undefined, (error: { code: number; stderr: string }) => error);
    expect(refused?.code, 'a usage error').to.equal(2);
    expect(refused?.stderr).to.include('--older-than');
  });
});
