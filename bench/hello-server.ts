/** Koa hello-world: the ceiling a protected resource is measured against. */
import Koa from 'koa';

const app = new Koa();
app.use((ctx) => { ctx.body = { hello: 'world' }; });
app.listen(Number(process.env.PORT ?? 0), () => process.stdout.write('ready\n'));
// Exit through process.exit, so a profiled run (BENCH_PROFILE_DIR) writes its profile.
process.on('SIGTERM', () => process.exit(0));
