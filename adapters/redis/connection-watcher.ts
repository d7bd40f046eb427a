import type { Cluster, Redis } from 'ioredis';

/** Who hears that a running connection was lost, and that it came back (once each per outage). */
export interface RedisConnectionWatcher {
  lost(reason: string): void;
  restored(): void;
}

/**
 * The error reply that made a connection reconnect (ioredis's
 * reconnectOnError): the connection's 'close' that follows carries no
 * reason of its own, and "connection closed" would hide that the server
 * answered, and what.
 */
export class RefusalReplies {
  private last: string | undefined;

  heard(reply: string): void {
    this.last = reply;
  }

  /** The reply heard since the last call, if any. */
  take(): string | undefined {
    const reply = this.last;
    this.last = undefined;
    return reply;
  }
}

// While a server that answered READONLY is still not writable, it is asked
// again this often: a replica promoted under an idle connection triggers no
// reconnection, so no 'ready' would say it is back.
const WRITABLE_RECHECK_MS = 1000;

/**
 * Tells `watcher` when the running connection is lost and when it is back,
 * once each per outage: requests meanwhile answer 503 and /readyz says so,
 * but an operator reading the log would otherwise find no line about it.
 *
 * A reconnection caused by a READONLY reply (a master demoted, or a replica
 * behind the address) is one outage, reported with that reply, until
 * `writable` says the server takes writes again: each reconnection lands on
 * a connection that is "ready" but refuses the next write, and reporting
 * every one as lost and back made the log flap twice a second with neither
 * line saying why.
 */
export function watchConnection(redis: Redis | Cluster, watcher: RedisConnectionWatcher, replies: RefusalReplies, writable: () => Promise<boolean>): void {
  let down = false;
  let refusedWrites = false;
  let lastError: string | undefined;
  let recheck: NodeJS.Timeout | undefined;
  const back = () => {
    down = false;
    refusedWrites = false;
    lastError = undefined;
    watcher.restored();
  };
  const checkWritable = () => {
    recheck = undefined;
    void writable().then((ok) => {
      if (!down || redis.status !== 'ready') return;
      if (ok) back();
      else recheck = setTimeout(checkWritable, WRITABLE_RECHECK_MS).unref();
    });
  };
  redis.on('error', (error: Error) => { lastError = error.message; });
  redis.on('close', () => {
    const reply = replies.take();
    clearTimeout(recheck);
    if (down) return;
    // ioredis ends a connection this process closed (storage closing at the
    // end of a CLI command or a server's stop) in the same turn as its
    // 'close', and schedules a reconnection otherwise: only a loss is told.
    queueMicrotask(() => {
      if (down || redis.status === 'end') return;
      down = true;
      refusedWrites = reply !== undefined;
      watcher.lost(reply === undefined ? lastError ?? 'connection closed'
        : `Redis answered "${reply}": it is not a master now (a replica, or a master demoted by a failover); reconnecting until it takes writes`);
    });
  });
  redis.on('ready', () => {
    if (!down) return;
    if (refusedWrites) checkWritable();
    else back();
  });
  redis.on('end', () => clearTimeout(recheck));
}
