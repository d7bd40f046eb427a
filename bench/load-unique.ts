/**
 * The load process for scenarios whose every request must differ, which
 * autocannon's CLI cannot send: run.ts writes a UniqueLoad as JSON to a file,
 * starts this script on it, and reads autocannon's result, in the shape of
 * `autocannon -j`, from stdout. Like the CLI, it is a process of its own,
 * neither a server's nor the orchestrator's.
 *
 * - `each`: one request per body (single-use authorization codes), a fixed
 *   `amount` rather than a duration, so no request is ever left without a code.
 * - `chain`: refresh token rotation; each connection starts from its own
 *   refresh token and sends the one each response returns with its next
 *   request, for `duration` seconds.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import autocannon, { type Options, type RawRequest, type RequestStep } from 'autocannon';

interface Common { url: string; headers: Record<string, string>; connections: number }
export type UniqueLoad =
  | Common & { kind: 'each'; bodies: string[] }
  | Common & { kind: 'chain'; duration: number; refreshTokens: string[] };

const spec = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as UniqueLoad;
const { pathname, search } = new URL(spec.url);
const step = { method: 'POST', path: `${pathname}${search}`, headers: spec.headers };
const withBody = (request: RawRequest, body: string): RawRequest => ({ ...request, body });

let problem: string | undefined;
let options: Options;
if (spec.kind === 'each') {
  let next = 0;
  options = {
    url: spec.url,
    // autocannon refuses more connections than requests.
    connections: Math.min(spec.connections, spec.bodies.length),
    amount: spec.bodies.length,
    requests: [{
      ...step,
      // autocannon builds a request only when it sends one and stops at
      // `amount`, so there is never a request without its own body; an empty
      // one would still be sent and answered 400, and so counted, not hidden.
      setupRequest: (request) => withBody(request, spec.bodies[next++] ?? ''),
    }],
  };
} else {
  let seed = 0;
  options = {
    url: spec.url,
    connections: spec.connections,
    duration: spec.duration,
    ...step,
    // Not autocannon's `context`: it is reset to `initialContext` whenever the
    // request list starts over, which with one request is before every
    // request. The chain lives in a closure per connection instead.
    setupClient(client) {
      let token = spec.refreshTokens[seed++] ?? '';
      const refresh: RequestStep = {
        ...step,
        setupRequest: (request) => withBody(request, `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`),
        // A failed refresh keeps its token: the next request replays it, is
        // refused too, and every refusal is counted as non-2xx.
        onResponse(status, body) {
          if (status !== 200) return;
          const rotated = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
          // A server that does not rotate would make this a different benchmark.
          if (!rotated || rotated === token) problem ??= 'a refresh response returned no new refresh_token';
          else token = rotated;
        },
      };
      client.setRequests([refresh]);
    },
  };
}

const started = performance.now();
let lastResponse = started;
const instance = autocannon(options);
instance.on('response', () => { lastResponse = performance.now(); });
const result = await instance;
if (spec.kind === 'each') {
  // autocannon averages whole one-second samples, and a fixed amount ends
  // mid-second; the exact rate is the responses over the time they took.
  result.requests.average = result.requests.total / ((lastResponse - started) / 1000);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
if (problem) {
  process.stderr.write(`load-unique: ${problem}\n`);
  process.exitCode = 1;
}
