import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Koa, { type Middleware } from 'koa';
import { StorageUnavailableError } from '../../adapters/unavailable.js';
import { northstarErrors } from '../../src/admin/northstar/errors.js';
import { losErrors } from '../../src/compat/los/errors.js';
import { luxErrors } from '../../src/compat/lux/errors.js';
import { ValidationError } from '../../src/errors/app-error.js';
import { errorHandler } from '../../src/http/error-handler.js';
import { createLogger } from '../../src/observability/logger.js';
import { TooManyFailures } from '../../src/security/failure-limiter.js';
import { TokenCheckError } from '../../src/resource-check/token-check.js';

/** Answers one request with whatever `mapping` makes of `error`. */
async function answerTo(mapping: Middleware, error: unknown) {
  const app = new Koa();
  app.use(errorHandler(createLogger('silent')));
  app.use(mapping);
  app.use(() => { throw error; });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const reply = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return { status: reply.status, headers: reply.headers, body: await reply.json() as Record<string, unknown> };
  } finally {
    server.close();
  }
}

const passThrough: Middleware = (_ctx, next) => next();
const outage = () => new StorageUnavailableError('postgres: connection refused');

describe('error shapes: each surface answers every error in its own shape', () => {
  it('the global handler writes AppErrors in the RFC 6749 shape, with the headers they call for', async () => {
    const throttled = await answerTo(passThrough, new TooManyFailures(7, 'client'));
    expect(throttled.status).to.equal(429);
    expect(throttled.headers.get('retry-after')).to.equal('7');
    expect(throttled.body).to.deep.equal({ error: 'temporarily_unavailable', error_description: 'too many failed attempts; retry after 7 seconds' });
    const invalid = await answerTo(passThrough, new ValidationError([{ field: 'name', message: 'is required' }]));
    expect(invalid.body).to.deep.equal({ error: 'invalid_input', error_description: 'name: is required', fields: [{ field: 'name', message: 'is required' }] });
  });

  it('a token check error is an AppError: invalid_token in the body when no token was presented', async () => {
    const missing = await answerTo(passThrough, new TokenCheckError(401, undefined, 'no access token'));
    expect(missing.status).to.equal(401);
    expect(missing.body).to.deep.equal({ error: 'invalid_token', error_description: 'no access token' });
  });

  it('a storage outage is 503 temporarily_unavailable in RFC 6749 shape, for the global handler and the RFC 6749 dialects', async () => {
    for (const mapping of [passThrough, luxErrors.thrown]) {
      const reply = await answerTo(mapping, outage());
      expect(reply.status).to.equal(503);
      expect(reply.body).to.deep.equal({ error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; retry shortly' });
    }
  });

  it('LOS wraps a storage outage in its envelope', async () => {
    const reply = await answerTo(losErrors.thrown, outage());
    expect(reply.status).to.equal(503);
    expect(reply.body.meta).to.include({ function: 'oauth', responseCode: 503, success: false });
    expect(reply.body.data).to.deep.equal({ error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable; retry shortly' });
  });

  it('Northstar answers a storage outage in its own shape, not RFC 6749', async () => {
    const reply = await answerTo(northstarErrors, outage());
    expect(reply.status).to.equal(503);
    expect(reply.body).to.deep.equal({ error: { code: 503, message: 'the service is temporarily unavailable; retry shortly' } });
  });

  it('anything unexpected passes every surface mapping and is a bare 500', async () => {
    for (const mapping of [northstarErrors, losErrors.thrown, luxErrors.thrown]) {
      const reply = await answerTo(mapping, new Error('boom'));
      expect(reply.status).to.equal(500);
      expect(reply.body).to.deep.equal({ error: 'server_error', error_description: 'An internal error occurred.' });
    }
  });
});
