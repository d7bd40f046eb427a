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
