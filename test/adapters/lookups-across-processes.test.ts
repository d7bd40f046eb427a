import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SecretsAtRest } from '../../adapters/secrets-at-rest.js';
import { SqlClientsStore } from '../../adapters/sql/clients-store.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { migrate } from '../../adapters/sql/migrate.js';
import { SqlResourceServersStore } from '../../adapters/sql/resource-servers-store.js';
import { SqlScopesStore } from '../../adapters/sql/scopes-store.js';
import { decodeSecretsKey } from '../../src/config/secrets-key.js';
import { ResourceServerRegistry } from '../../src/resource-servers/registry.js';
import { ScopeRegistry } from '../../src/scopes/registry.js';
import { sqlDatabasesUnderTest } from '../support/sql-databases.js';

const databases = sqlDatabasesUnderTest();

/**
 * Two stores over one database stand for two processes (a server and the
 * CLI, or two nodes): each keeps its own short-lived cache. What one
 * registers the other must serve on its very next lookup, even one made
 * right after it found nothing; a change may take up to a second.
 */
for (const database of databases) {
  describe(`lookups across processes: ${database.name}`, () => {
    const secrets = new SecretsAtRest(process.env.SECRETS_KEY ? decodeSecretsKey(process.env.SECRETS_KEY) : randomBytes(32));
    let db: SqlDatabase;
    let close: () => Promise<void>;

    before(async () => {
      ({ db, close } = await database.open());
      await migrate(db);
    });
    after(() => close());

    it('a client registered by another process is found at once, though this one just found it missing', async () => {
      const server = new SqlClientsStore(db, secrets);
      const cli = new SqlClientsStore(db, secrets);
      const clientId = `across-${randomUUID()}`;
      // Several lookups at once, as concurrent token requests make them.
      expect(await Promise.all([server.findCached(clientId), server.findCached(clientId)])).to.deep.equal([undefined, undefined]);
      await cli.insert({ client_id: clientId, client_name: 'registered elsewhere', client_secret: randomBytes(32).toString('base64url') });
      try {
        expect((await server.findCached(clientId))?.client_name).to.equal('registered elsewhere');
      } finally {
        // The suite's other files share this database and list its clients.
        await cli.delete(clientId);
      }
    });

    it('a client changed by another process is served as it was for at most a second, then as changed', async () => {
      const server = new SqlClientsStore(db, secrets);
      const cli = new SqlClientsStore(db, secrets);
      const clientId = `across-${randomUUID()}`;
      const inserted = await cli.insert({ client_id: clientId, client_name: 'before' });
      try {
        expect((await server.findCached(clientId))?.client_name).to.equal('before');
        await cli.replace({ ...inserted.metadata, client_name: 'after' });
        const seenAt = Date.now();
        let name = (await server.findCached(clientId))?.client_name;
        while (name !== 'after' && Date.now() - seenAt < 1500) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          name = (await server.findCached(clientId))?.client_name;
        }
        expect(name).to.equal('after');
        expect(Date.now() - seenAt).to.be.below(1200);
      } finally {
        await cli.delete(clientId);
      }
    });

    it('a resource server registered by another process is honoured at once, though this one just found it missing', async () => {
      const scopes = new ScopeRegistry(new SqlScopesStore(db));
      const uri = `https://api-${randomUUID()}.example.test`;
      const server = new ResourceServerRegistry(new SqlResourceServersStore(db), scopes, 'https://gatehouse.example.test/api');
      const cli = new ResourceServerRegistry(new SqlResourceServersStore(db), scopes, 'https://gatehouse.example.test/api');
      expect(await server.find(uri)).to.equal(undefined);
      await cli.save({ uri, scope: ['openid'], tokenFormat: 'opaque' });
      try {
        expect((await server.find(uri))?.tokenFormat).to.equal('opaque');
      } finally {
        // test/admin/console-scopes.test.ts, on the same database, expects only its own resource servers.
        await cli.remove(uri);
      }
    });
  });
}
