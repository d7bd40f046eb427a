import Router from '@koa/router';

export interface ReadinessProbe {
  readiness(): Promise<{ durable: boolean; ephemeral: boolean }>;
}

/** `/healthz`: the process answers. `/readyz`: both storage tiers answer too. */
export function healthRouter(storage: ReadinessProbe): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    // pid: which worker answered (operators and the multi-process test use it).
    ctx.body = { status: 'ok', pid: process.pid };
  });
  router.get('/readyz', async (ctx) => {
    const { durable, ephemeral } = await storage.readiness();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = durable && ephemeral ? 200 : 503;
    ctx.body = {
      status: durable && ephemeral ? 'ready' : 'unavailable',
      durable: durable ? 'up' : 'down',
      ephemeral: ephemeral ? 'up' : 'down',
    };
  });
  return router;
}
