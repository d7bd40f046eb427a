import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { CounterStore } from '../../adapters/contract.js';
import { RedisCounterStore } from '../../adapters/redis/counter-store.js';
import { FailureLimiter, type Subject } from '../../src/security/failure-limiter.js';
import { eventually, until } from '../support/waiting.js';

const LIMITS = { client: 3, user: 3, ip: 6, distributed: 4, windowSeconds: 60, maxBackoffSeconds: 2 };
const quiet = { engaged() {}, refused() {} };

/**
 * One process's view of the failure counters: its limiter, how often it read
 * them from Redis, and every change it heard of.
 */
function processView(redis: Redis, prefix: string) {
  const store = new RedisCounterStore(redis, prefix);
  const watched = {
    lookups: 0,
    heard: [] as Array<{ key: string; count?: number }>,
    store,
  };
  const counting: CounterStore = Object.assign(Object.create(store) as CounterStore, {
    peek: (keys: string[]) => { watched.lookups += 1; return store.peek(keys); },
    watch: (onChange: (key: string, count?: number) => void) => store.watch((key, count) => {
      watched.heard.push({ key, count });
      onChange(key, count);
    }),
  });
  return { ...watched, get lookups() { return watched.lookups; }, heard: watched.heard, limiter: new FailureLimiter(counting, LIMITS, quiet) };
}

describe('failure limiter: what every process knows of failures without asking Redis', function () {
  const connections: Redis[] = [];
  const stores: RedisCounterStore[] = [];

  before(function () {
    if (!process.env.REDIS_URL) this.skip();
  });
  after(async () => {
    await Promise.all(stores.map((store) => store.close()));
    for (const connection of connections) connection.disconnect();
  });

  function open(prefix: string) {
    const connection = new Redis(process.env.REDIS_URL!);
    connections.push(connection);
    const opened = processView(connection, prefix);
    stores.push(opened.store);
    return opened;
  }

  it('a sign-in that succeeds (counted before its password is checked, taken back after) leaves no lookup behind in any process; a failure does', async () => {
    const prefix = `gatehouse-test-${randomUUID()}:`;
    const signingIn = open(prefix);
    const elsewhere = open(prefix);
    const ip = `192.0.2.${1 + Math.floor(Math.random() * 250)}`;
    const request: Subject[] = [{ kind: 'ip', value: ip }, { kind: 'client', value: `client-${randomUUID()}` }];
    // The first check starts the process's view of the counters; once it is
    // live, a check with no failure anywhere reads nothing.
    await eventually(async () => {
      const before = elsewhere.lookups;
      await elsewhere.limiter.check(request);
      return elsewhere.lookups === before;
    });

    const heardBefore = elsewhere.heard.length;
    expect(await signingIn.limiter.attemptPassword('alice', ip, async () => 'alice')).to.equal('alice');
    // The address's hit, its release, the address+username hit and its clear.
    await until(() => elsewhere.heard.slice(heardBefore).filter(({ count }) => count === 0).length === 2);
    const lookups = elsewhere.lookups;
    await elsewhere.limiter.check(request);
    expect(elsewhere.lookups - lookups, 'no lookup after a success').to.equal(0);

    const heardAfterSuccess = elsewhere.heard.length;
    expect(await signingIn.limiter.attemptPassword('alice', ip, async () => undefined)).to.equal(undefined);
    await until(() => elsewhere.heard.slice(heardAfterSuccess).some(({ key, count }) => key.startsWith('fail:ip:') && count === 1));
    await elsewhere.limiter.check(request);
    expect(elsewhere.lookups - lookups, 'the address has a failure: it is looked up').to.equal(1);
  });
});
