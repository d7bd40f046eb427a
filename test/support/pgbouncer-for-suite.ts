/**
 * Starts PgBouncer in transaction pooling mode in front of the PostgreSQL
 * server DATABASE_URL names (every database of it, under its own name),
 * prints `DATABASE_URL=…` for the same database through the pooler, and keeps
 * it until SIGTERM or SIGINT, so that the whole suite can run through it:
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/ci node dist/test/support/pgbouncer-for-suite.js &
 *   DATABASE_URL=<the printed one> npm test
 *   kill <its pid>
 */
import { pgbouncerBinary, startPgBouncer } from './pgbouncer.js';

const binary = pgbouncerBinary();
if (!binary) {
  console.error('the pgbouncer binary is not installed (Debian package pgbouncer)');
  process.exit(1);
}
if (!process.env.DATABASE_URL) {
  console.error('DATABASE_URL must name the PostgreSQL database to pool');
  process.exit(1);
}
const bouncer = await startPgBouncer(binary, { url: process.env.DATABASE_URL }, { allDatabases: true, poolSize: 20 });
console.log(`DATABASE_URL=${bouncer.url}`);
const stop = () => { bouncer.stop().then(() => process.exit(0), () => process.exit(1)); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
setInterval(() => {}, 1 << 30);
