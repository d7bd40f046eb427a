import { ReplyError } from 'ioredis';
import { StorageUnavailableError } from '../unavailable.js';
import { type RedisClient, TRANSIENT_REPLY } from './connect.js';

// ioredis's errors for a connection that is gone or silent (it has no error
// classes for them): retries exhausted, closed, offline queue off, timed out;
// and a cluster's: redirections that never settled while a replica was being
// promoted, no node reachable, the slot map unobtainable.
const CONNECTION_LOST = new RegExp([
  'MaxRetriesPerRequest', 'Connection is closed', "Stream isn't writeable", 'Command timed out',
  'Too many Cluster redirections', 'ClusterAllFailedError', 'None of startup nodes is available', 'Failed to refresh slots cache', "Cluster isn't ready",
].map((text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));

function translate(redis: RedisClient, error: unknown): unknown {
  // A ReplyError is Redis answering: the command itself was wrong, unless
  // the node says it cannot take commands now (failover, see connect.ts).
  if (error instanceof ReplyError) {
    const { message } = error as Error;
    // A MULTI Redis refused as a whole (EXECABORT) gives its reasons apart.
    const reasons = (error as { previousErrors?: Array<{ message?: string }> }).previousErrors;
    const transient = TRANSIENT_REPLY.test(message)
      || (message.startsWith('EXECABORT') && !!reasons?.length && reasons.every((reason) => TRANSIENT_REPLY.test(String(reason.message))));
    return transient ? new StorageUnavailableError(`Redis unavailable: ${message}`, error) : error;
  }
  const { name, message } = error as Error;
  if (redis.status !== 'ready' || CONNECTION_LOST.test(`${name} ${message}`)) {
    return new StorageUnavailableError(`Redis unreachable: ${message}`, error);
  }
  return error;
}

/**
 * `store`, with every promise its methods return rejecting with
 * StorageUnavailableError when the Redis connection is lost, so each Redis
 * store keeps the storage contract without a try/catch per method.
 */
export function failingAsUnavailable<T extends object>(store: T, redis: RedisClient): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        return result instanceof Promise ? result.catch((error: unknown) => { throw translate(redis, error); }) : result;
      };
    },
  });
}
