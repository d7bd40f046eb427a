import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { type CliResult, runCli } from '../support/built-cli.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';

/** A --file the command cannot use: the command line to correct (exit 2, no usage text), one line, no stack trace. */
function expectFileRefused(result: CliResult, what: string, message: RegExp): void {
  expect(result.code, `${what}: ${result.stderr}`).to.equal(2);
  expect(result.stdout, what).to.equal('');
  expect(result.stderr, what).to.match(message);
  expect(result.stderr.trim().split('\n'), `${what}: one line`).to.have.length(1);
  expect(result.stderr, `${what}: no stack trace`).to.not.match(/\n\s+at /);
}

/** The same refusal with --json: invalid_usage, as for any other value on the command line. */
function expectJsonFileRefused(result: CliResult, what: string, message: RegExp): void {
  expect(result.code, `${what} --json: ${result.stderr}`).to.equal(2);
  const body = JSON.parse(result.stderr) as { error: string; error_description: string };
  expect(body.error, `${what} --json`).to.equal('invalid_usage');
  expect(body.error_description, `${what} --json`).to.match(message);
}

describe('CLI --file that cannot be used', function () {
  this.timeout(60_000);
  let server: TestServer;
  let folder: string;
  // Each case: what it is, the --file given, what the refusal says about it.
  let cases: Array<[string, string, RegExp]>;

  before(async () => {
    server = await startTestServer();
    folder = await tempDir();
    await mkdir(join(folder, 'a-folder'));
    await writeFile(join(folder, 'a-file'), 'not a folder\n');
    cases = [
      ['in a folder that does not exist', join(folder, 'missing', 'x.jsonl'), /--file .*missing\/x\.jsonl: .*missing does not exist \(ENOENT\)/],
      ['an existing folder', join(folder, 'a-folder'), /--file .*a-folder: .*a-folder is a folder \(EISDIR\)/],
      ['under a file', join(folder, 'a-file', 'x.jsonl'), /--file .*a-file\/x\.jsonl: .*a-file is not a folder \(ENOTDIR\)/],
    ];
  });
  after(async () => {
    await rm(folder, { recursive: true, force: true });
    await server.stop();
  });

  it('export refuses it naming --file and why, and leaves no temporary file behind', async () => {
    for (const [what, file, message] of cases) {
      expectFileRefused(await runCli(server, 'export', '--file', file), what, new RegExp(`^gatehouse: cannot write ${message.source}`));
      expectJsonFileRefused(await runCli(server, 'export', '--file', file, '--json'), what, message);
    }
    // The export is written beside its target first: none of it may stay (it holds password hashes).
    expect(await readdir(folder)).to.have.members(['a-folder', 'a-file']);
    expect(await readdir(join(folder, 'a-folder'))).to.deep.equal([]);
  });

  it('every import refuses it the same way, naming --file and why', async () => {
    for (const [what, file, message] of cases) {
      expectFileRefused(await runCli(server, 'import', 'gatehouse', '--file', file), what, new RegExp(`^gatehouse: cannot read ${message.source}`));
      expectJsonFileRefused(await runCli(server, 'import', 'gatehouse', '--file', file, '--json'), what, message);
    }
    // The others read their file the same way (one case each: every run loads the whole application).
    const [what, file, message] = cases[0]!;
    for (const command of ['clients', 'users', 'northstar']) {
      expectFileRefused(await runCli(server, 'import', command, '--file', file), `import ${command}, ${what}`, new RegExp(`^gatehouse: cannot read ${message.source}`));
    }
  });
});
