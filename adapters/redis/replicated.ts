import type { Redis } from 'ioredis';
import { StorageUnavailableError } from '../unavailable.js';

/** How long a write waits for a replica's acknowledgement before the request gets 503. */
const ACKNOWLEDGEMENT_TIMEOUT_MS = 1000;

/**
 * Redis replicates asynchronously: a master that fails right after a write
 * may be replaced by a replica that never received it. For most writes
 * that costs a session or an access token. For the ones named here it
 * would bring something back to life: a consumed authorization code could
 * be redeemed a second time (RFC 6749 §4.1.2), a revoked token (RFC 7009)
 * would be valid again. So each such call is answered only once a replica
 * has acknowledged it (WAIT); when none does, the call fails as an outage,
 * and the client that asked gets 503, not a success that a failover could
 * undo. A master with no replica at all has nothing to fail over to, and
 * its writes are accepted as they are.
 */
export function acknowledgedByReplica<T extends object>(store: T, redis: Redis, methods: ReadonlyArray<keyof T>): T {
  const guarded = new Set<PropertyKey>(methods);
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || !guarded.has(property)) return value;
      return async (...args: unknown[]) => {
        const result: unknown = await value.apply(target, args);
        // Asked first: WAIT on a master without replicas would only wait out its timeout.
        if (!(await hasReplicas(redis))) return result;
        // WAIT counts the replicas that have every write this connection made so far, this one included.
        if (await redis.wait(1, ACKNOWLEDGEMENT_TIMEOUT_MS) < 1) {
          throw new StorageUnavailableError(`Redis: no replica acknowledged ${String(property)} within ${ACKNOWLEDGEMENT_TIMEOUT_MS} ms`);
        }
        return result;
      };
    },
  });
}

/** Whether the master has replicas (ROLE: ['master', offset, [[host, port, offset], …]]). */
async function hasReplicas(redis: Redis): Promise<boolean> {
  const role = await redis.call('ROLE') as [string, number, unknown[]];
  return role[0] !== 'master' || role[2].length > 0;
}
