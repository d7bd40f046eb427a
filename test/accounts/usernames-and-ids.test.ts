import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { runCli, runCliWithInput } from '../support/built-cli.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';

/**
 * The CLI, the console and the admin API name a user by "id or username".
 * A username with the form of an account id (a UUID: another account's
 * `sub`, which relying parties see) is refused on every way in, so that no
 * one can choose a username that makes an administrator's command act on
 * someone else. An account stored with one before the rule (a pre-upgrade
 * row) makes that text name nobody: refused, never the wrong account.
 */
describe('usernames and account ids never name two accounts', () => {
  let server: TestServer;
  const stamp = Date.now().toString(36);

  before(async () => { server = await startTestServer(); });
  after(() => server?.stop());

  it('refuses a username of the form of an account id, at user create (CLI and service) and at import', async () => {
    const victim = await server.services.accounts.create({ username: `victim-${stamp}`, password: 'victim user password' });
    const created = await runCliWithInput(server, 'a long enough password\n', 'user', 'create', '--username', victim.id, '--password', '-');
    expect(created.code, created.stdout).to.equal(1);
    expect(created.stderr).to.contain('must not have the form of an account id');
    const refused = await server.services.accounts.create({ username: randomUUID().toUpperCase(), password: 'another user password' }).then(() => undefined, (error: unknown) => error);
    expect(refused).to.have.property('status', 422);

    const folder = await tempDir();
    const file = join(folder, 'users.jsonl');
    await writeFile(file, `${JSON.stringify({ username: victim.id, password_hash: 'pbkdf2_sha256$600000$c2FsdHNhbHQ$' + 'A'.repeat(43) + '=' })}\n`);
    const imported = await runCli(server, 'import', 'users', '--file', file);
    await rm(folder, { recursive: true, force: true });
    expect(imported.code, imported.stdout).to.not.equal(0);
    expect(`${imported.stdout}${imported.stderr}`).to.contain('must not have the form of an account id');
    expect((await runCli(server, 'user', 'show', victim.id, '--json')).stdout).to.contain(`victim-${stamp}`);
  });

  it('refuses to act on a text that is one account\'s id and a stored account\'s username, and reaches each by the other name', async () => {
    const victim = await server.services.accounts.create({ username: `target-${stamp}`, password: 'target user password' });
    // A row stored before the rule: written through the store, as an older version would have.
    const shadowId = randomUUID();
    await server.services.storage.accounts.insert({
      id: shadowId, username: victim.id, usernameKey: victim.id.toLowerCase(), passwordHash: (await server.services.storage.accounts.findById(victim.id))!.passwordHash,
      roles: ['user'], email: null, emailVerified: false, name: null,
    });
    for (const args of [['user', 'show', victim.id], ['user', 'update', victim.id, '--name', 'Changed'], ['user', 'delete', victim.id]]) {
      const answer = await runCli(server, ...args);
      expect(answer.code, `${args.join(' ')}: ${answer.stdout}`).to.equal(1);
      expect(answer.stderr, args.join(' ')).to.contain(`is the id of user "target-${stamp}" and the username of another user (id ${shadowId})`);
    }
    expect((await server.services.storage.accounts.findById(victim.id))?.name, 'nothing changed').to.equal(null);
    // Callers that hold an id (a session's sub: the account page; the console's links) still reach that account.
    expect((await server.services.accounts.show(victim.id)).username).to.equal(`target-${stamp}`);
    expect((await server.services.accounts.grants(victim.id)).grants).to.deep.equal([]);
    expect(await server.services.storage.accounts.findById(shadowId), 'nothing deleted').to.not.equal(undefined);
    const byUsername = JSON.parse((await runCli(server, 'user', 'show', `target-${stamp}`, '--json')).stdout) as { id: string };
    expect(byUsername.id).to.equal(victim.id);
    const byId = JSON.parse((await runCli(server, 'user', 'show', shadowId, '--json')).stdout) as { id: string; username: string };
    expect(byId).to.include({ id: shadowId, username: victim.id });
  });
});
