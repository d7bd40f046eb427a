/** The oldest Node.js major version Gatehouse runs on (package.json `engines`; oidc-provider 9 needs it). */
export const OLDEST_SUPPORTED_NODE = 22;

/**
 * Why this Node.js cannot run Gatehouse, or undefined when it can. An older
 * one (a system Node where the unit or a shell runs `node`) started and
 * served with only oidc-provider's warning, on a runtime neither project
 * supports.
 */
export function unsupportedRuntime(version: string = process.versions.node): string | undefined {
  const major = Number(version.split('.')[0]);
  if (major >= OLDEST_SUPPORTED_NODE) return undefined;
  return `Node.js ${version} is not supported: Gatehouse needs Node.js ${OLDEST_SUPPORTED_NODE} or later (${process.execPath}); `
    + 'npm start and npm run cli use the Node 22 the project installs (node_modules/.bin/node), or install Node.js 22 on the machine';
}

/** The entry points' first step (server, CLI): on an unsupported Node.js, says why and exits 1. */
export function refuseUnsupportedRuntime(): void {
  const unsupported = unsupportedRuntime();
  if (!unsupported) return;
  process.stderr.write(`gatehouse: ${unsupported}\n`);
  process.exit(1);
}

/**
 * Node options the server runs with on Node 22 and 23: `npm start` (through
 * server-node-options.ts), the image's CMD and the test suite (its
 * in-process servers through .mocharc.json, the ones it spawns through
 * test/support/process.ts) pass them, and test/operations/packaging.test.ts
 * holds each to this list. oidc-provider keeps each request's context in an
 * AsyncLocalStorage; on Node 22 and 23 that rides on async hooks, which hook
 * every promise the process makes, on every request, Gatehouse's own routes
 * included. AsyncContextFrame carries the context with the continuation
 * instead (measured in docs/performance.md). It came in 22.7; Node 24 made
 * it the default and no longer knows the option (it would refuse to start).
 */
export const SERVER_NODE_OPTIONS = ['--experimental-async-context-frame'] as const;

/** The options a server on this Node.js is started with: SERVER_NODE_OPTIONS from 22.7 to 23, none before or after. */
export function serverNodeOptions(version: string = process.versions.node): string[] {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return (major === 22 && minor >= 7) || major === 23 ? [...SERVER_NODE_OPTIONS] : [];
}

/** An option as Node reads it: `_` and `-` are the same in its name. */
const optionName = (option: string) => option.split('=')[0]!.replace(/_/g, '-');

/**
 * The server options this process was started without, where its Node.js
 * takes them. An option turned off on purpose
 * (`--no-experimental-async-context-frame`, in the arguments or
 * NODE_OPTIONS) is not missing: that is the operator's way out.
 */
export function missingServerNodeOptions(
  version: string = process.versions.node,
  given: readonly string[] = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)],
): string[] {
  const named = new Set(given.map(optionName));
  return serverNodeOptions(version).filter((option) => !named.has(option) && !named.has(option.replace(/^--/, '--no-')));
}
