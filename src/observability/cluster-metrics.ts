import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type Registry } from 'prom-client';

const ASK = 'gatehouse:metrics';
const ANSWER = 'gatehouse:metrics:answer';
// A scrape waits this long for the whole server's figures (prom-client waits 5 s per worker).
const ASK_TIMEOUT_MS = 6000;

interface Answer { type: typeof ANSWER; id: string; text?: string; error?: string }

/**
 * In a multi-worker server (node:cluster), the primary sums every worker's
 * metrics with prom-client's cluster aggregation, so that one scrape of
 * `/metrics`, answered by whichever worker the connection reached, covers the
 * whole server: counters only ever grow, instead of reading 3, 4, 3, 4 as
 * scrapes land on different workers (which Prometheus takes for resets).
 * Call once in the primary.
 */
export function aggregateWorkerMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: string; id?: string }) => {
    if (message?.type !== ASK || typeof message.id !== 'string') return;
    const id = message.id;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id, text } satisfies Answer),
      (error: Error) => worker.send({ type: ANSWER, id, error: error.message } satisfies Answer),
    );
  });
}

/**
 * The Prometheus text for `registry`: in a cluster worker, the whole
 * server's (asked of the primary); otherwise this process's own.
 */
export function metricsText(registry: Registry): () => Promise<string> {
  if (!cluster.isWorker) return () => registry.metrics();
  // The primary's aggregator asks each worker for these registries' figures.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  return () => new Promise<string>((resolve, reject) => {
    const id = randomUUID();
    const timer = setTimeout(() => { process.off('message', listen); reject(new Error('the primary did not answer for the metrics')); }, ASK_TIMEOUT_MS);
    function listen(message: Answer) {
      if (message?.type !== ANSWER || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', listen);
      if (message.text !== undefined) resolve(message.text);
      else reject(new Error(message.error ?? 'metrics aggregation failed'));
    }
    process.on('message', listen);
    process.send!({ type: ASK, id });
  });
}
