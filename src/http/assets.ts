import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Router from '@koa/router';
import { VIEWS_DIR } from './views.js';

/** The pages' one stylesheet, served from memory with a long cache lifetime. */
export function assetsRouter(): Router {
  const css = readFileSync(join(VIEWS_DIR, 'gatehouse.css'));
  const router = new Router();
  router.get('/assets/gatehouse.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = css;
  });
  return router;
}
