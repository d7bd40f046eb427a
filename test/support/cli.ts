// The CLI helpers live in built-cli.ts (the CLI of the build these tests were compiled into).
export { type CliResult, runCli, runCliWithInput } from './built-cli.js';
