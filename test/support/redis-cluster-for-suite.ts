/**
 * Starts a three-master, three-replica Redis Cluster on free ports, prints
 * `REDIS_CLUSTER_NODES=…` and keeps it until SIGTERM or SIGINT, so that any
 * test file (or the whole suite) can run with its ephemeral tier on a cluster:
 *
 *   node dist/test/support/redis-cluster-for-suite.js &   # prints the nodes
 *   REDIS_CLUSTER_NODES=… npx mocha …
 *   kill <its pid>
 */
import { startRedisCluster } from './redis-servers.js';

const cluster = await startRedisCluster();
console.log(`REDIS_CLUSTER_NODES=${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`);
const stop = () => { cluster.stop().then(() => process.exit(0), () => process.exit(1)); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
setInterval(() => {}, 1 << 30);
