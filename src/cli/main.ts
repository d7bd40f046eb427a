#!/usr/bin/env node
// First: refuses an unsupported Node.js before anything else loads.
import '../runtime-guard.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AppError } from '../errors/app-error.js';
import { appErrorBody, type Rfc6749ErrorBody, rfc6749Body } from '../errors/rfc6749.js';
import { dashedValuesAsValues, UsageError, type Values } from './arguments.js';
import { commandFlags, commandGroup, commandHelp, COMMANDS, commandUsage, findCommand, groupHelp } from './commands.js';
import { terminalSafeLines } from './plain-text.js';
import { closest } from './suggestions.js';

const USAGE = `Usage: gatehouse <command> [options]   (npm run cli -- <command> …)

Commands:
${commandUsage()}

Every command accepts --json for machine-readable output and --help for its options.
Options have two dashes; a word with one dash (a session id such as -E3x…) is a value.
Only migrate, or a command given --init, creates storage that does not exist yet.
Configuration comes from the environment (DATABASE_URL, GATEHOUSE_DATA_DIR, …), as for the server.`;

const GLOBAL_FLAGS = {
  json: { type: 'boolean' },
  init: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** parseArgs's complaint about a flag, with the nearest flag it knows when one is close. */
function flagProblem(error: Error): string {
  const unknown = /Unknown option '(--?[^']+)'/.exec(error.message)?.[1];
  if (!unknown) return error.message;
  const known = Object.keys({ ...commandFlags(), ...GLOBAL_FLAGS }).map((name) => `--${name}`);
  const suggestion = closest(unknown, known);
  return `unknown option ${unknown}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`;
}

/** The group the words name alone (`client`, not `client list`), when they name no command of their own (`audit` is one). */
function groupOnly(words: string[]): string | undefined {
  if (words.length !== 1 || findCommand(words)) return undefined;
  return commandGroup(words[0]!).length ? words[0] : undefined;
}

/** The words after a group's name that select each of its commands: `create, list, …`. */
function subcommandsOf(group: string): string {
  return commandGroup(group).map((command) => command.name.slice(group.length + 1)).join(', ');
}

/** The command the words name, or a usage error that suggests the nearest one. */
function commandOf(words: string[]) {
  const found = findCommand(words);
  if (found) return found;
  if (!words.length) throw new UsageError('no command given');
  const group = groupOnly(words);
  // A group's name is no typo to correct: what is missing is which of its commands.
  if (group) throw new UsageError(`which ${group} command? ${subcommandsOf(group)} (gatehouse ${group} --help shows how each is used)`, false);
  const names = COMMANDS.map((command) => command.name);
  const typed = words.slice(0, 2).join(' ');
  const known = commandGroup(words[0]!).length > 0;
  // The first word alone is suggested only when it is itself mistyped: `client` for `client foo` would send the operator in a circle.
  const suggestion = closest(typed, names) ?? (known ? undefined : closest(words[0]!, names.map((name) => name.split(' ')[0]!)));
  const hint = suggestion ? ` (did you mean "${suggestion}"?)` : known ? ` (${words[0]!} has: ${subcommandsOf(words[0]!)})` : '';
  throw new UsageError(`unknown command: ${words.join(' ')}${hint}`);
}

/** How a run that failed ends: its exit code, the error (RFC 6749 shape, as --json prints it), and whether the usage text helps. */
interface Failure {
  exitCode: 1 | 2;
  body: Rfc6749ErrorBody;
  showUsage?: boolean;
}

function usageFailure(message: string, showUsage: boolean): Failure {
  return { exitCode: 2, body: rfc6749Body('invalid_usage', message), showUsage };
}

/**
 * Every way a command can fail, mapped in one place (docs/cli.md, exit
 * codes): the command line (2), a refusal or a problem with the
 * configuration or the storage (1), or undefined for a fault.
 */
function failureOf(error: unknown, application: typeof import('./execute.js') | undefined): Failure | undefined {
  if (error instanceof UsageError) return usageFailure(error.message, error.showUsage);
  if (error instanceof AppError) return { exitCode: 1, body: appErrorBody(error) };
  // Only the application throws what an operator can act on, so it is loaded by then.
  const problem = application?.operatorProblem(error);
  return problem && { exitCode: 1, body: rfc6749Body(problem.code, problem.message) };
}

/** The one writer of failures: with --json the error as JSON on stderr, otherwise its message (made safe for a terminal). */
function report(failure: Failure, json: boolean): number {
  if (json) process.stderr.write(`${JSON.stringify(failure.body)}\n`);
  else process.stderr.write(`gatehouse: ${terminalSafeLines(failure.body.error_description)}\n${failure.showUsage ? `\n${USAGE}\n` : ''}`);
  return failure.exitCode;
}

/** --json, as the command line gives it: known before the command line is parsed, so that a flag problem is JSON too. */
function jsonRequested(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

async function main(argv: string[]): Promise<number> {
  const json = jsonRequested(argv);
  let parsed: { values: Values; positionals: string[] };
  try {
    const options = { ...commandFlags(), ...GLOBAL_FLAGS };
    parsed = parseArgs({ args: dashedValuesAsValues(argv, options), allowPositionals: true, options }) as typeof parsed;
  } catch (error) {
    const problem = flagProblem(error as Error);
    return report(usageFailure(json ? problem : `${problem}\n(gatehouse --help lists the commands; gatehouse <command> --help its options)`, false), json);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (!positionals.length && (values.help || !json)) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }

  const group = groupOnly(positionals);
  if (values.help && group) {
    process.stdout.write(`${groupHelp(group)}\n`);
    return 0;
  }

  let application: typeof import('./execute.js') | undefined;
  try {
    const { command, args } = commandOf(positionals);
    if (values.help) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return 0;
    }
    // A flag another command takes is a mistake here, not something to ignore silently.
    const own = new Set([...Object.keys(command.flags), ...Object.keys(GLOBAL_FLAGS)]);
    const stray = Object.keys(values).filter((name) => !own.has(name) && values[name] !== undefined);
    if (stray.length) throw new UsageError(`${command.name} takes no --${stray[0]} (gatehouse ${command.name} --help lists its options)`, false);
    // Everything above answers from the command table alone; the application
    // loads only now, for a command that runs (execute.ts).
    application = await import('./execute.js');
    await application.execute(command, args, values);
    return 0;
  } catch (error) {
    const failure = failureOf(error, application);
    if (failure) return report(failure, json);
    throw error;
  }
}

const argv = process.argv.slice(2);
main(argv).then((code) => { process.exitCode = code; }, (error: unknown) => {
  // A fault (a bug, not a refusal): the stack helps whoever reports it; with --json it is still JSON.
  if (jsonRequested(argv)) process.stderr.write(`${JSON.stringify(rfc6749Body('internal_error', (error as Error)?.message ?? String(error)))}\n`);
  else process.stderr.write(`gatehouse: ${terminalSafeLines((error as Error)?.stack ?? String(error))}\n`);
  process.exitCode = 1;
});
