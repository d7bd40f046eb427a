import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { type CliResult, runCliIn } from '../support/built-cli.js';
import { SERVER_ARGUMENTS } from '../support/process.js';
import { freePort, tempDir } from '../support/server.js';

const run = promisify(execFile);

/** The embedded database's settings only, pointed at `dataDir`; with or without SECRETS_KEY (the key file lives in the data folder). */
function embeddedAt(dataDir: string, secretsKey = ''): NodeJS.ProcessEnv {
  return { ...process.env, DATABASE_URL: '', REDIS_URL: '', REDIS_SENTINELS: '', REDIS_CLUSTER_NODES: '', SECRETS_KEY: secretsKey, GATEHOUSE_DATA_DIR: dataDir };
}

/** `node dist/src/server.js` as an operator starts it: its exit code and standard error. */
async function startServer(env: NodeJS.ProcessEnv): Promise<CliResult> {
  const port = String(await freePort());
  const options = { env: { ...env, PORT: port, ISSUER: `http://localhost:${port}`, LOG_LEVEL: 'warn' }, timeout: 30_000 };
  return run(process.execPath, SERVER_ARGUMENTS, options).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: CliResult) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

/** One line that names the setting and what is wrong with it: a setting to change, not a fault with a stack trace. */
function expectNotAFolder(result: CliResult, file: string, what: string): void {
  const path = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  expect(result.code, `${what}: ${result.stderr}`).to.equal(1);
  expect(result.stderr, what).to.match(new RegExp(`^gatehouse: GATEHOUSE_DATA_DIR \\(${path}[^)]*\\) cannot be used: ${path} is not a folder\\n$`, 'm'));
  expect(result.stderr, `${what}: no stack trace`).to.not.match(/\n\s+at |ENOTDIR|EEXIST/);
}

describe('A GATEHOUSE_DATA_DIR that is not a folder', function () {
  // The server and the CLI start as processes and stop at once; a loaded CI machine is slow to start Node.
  this.timeout(60_000);
  let folder: string;
  let file: string;

  before(async () => {
    folder = await tempDir();
    file = join(folder, 'a-file');
    await writeFile(file, 'not a folder\n');
  });
  after(() => rm(folder, { recursive: true, force: true }));

  it('is refused by the CLI in one line naming the setting, exit 1; with --json as invalid_configuration', async () => {
    const key = randomBytes(32).toString('base64');
    // Without SECRETS_KEY the key file is looked for first; with it the database's folder is.
    const cases: Array<[string, NodeJS.ProcessEnv, string[]]> = [
      ['the file itself, no SECRETS_KEY', embeddedAt(file), ['migrate']],
      ['a folder under the file, no SECRETS_KEY', embeddedAt(join(file, 'data')), ['migrate']],
      ['the file itself, with SECRETS_KEY', embeddedAt(file, key), ['migrate']],
      ['a command given --init', embeddedAt(join(file, 'data'), key), ['client', 'list', '--init']],
    ];
    for (const [what, env, args] of cases) {
      expectNotAFolder(await runCliIn(env, args), file, what);
      const asJson = await runCliIn(env, [...args, '--json']);
      expect(asJson.code, what).to.equal(1);
      const body = JSON.parse(asJson.stderr.trim().split('\n').pop()!) as { error: string; error_description: string };
      expect(body.error, what).to.equal('invalid_configuration');
      expect(body.error_description, what).to.match(/^GATEHOUSE_DATA_DIR .* is not a folder$/);
    }
  });

  it('stops the server at start in one line naming the setting, exit 1', async () => {
    expectNotAFolder(await startServer(embeddedAt(file)), file, 'no SECRETS_KEY');
    expectNotAFolder(await startServer(embeddedAt(join(file, 'data'), randomBytes(32).toString('base64'))), file, 'with SECRETS_KEY');
  });
});
