/** What parseArgs gives a command: flag values by name. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** Wrong use of the command line (exit code 2, with the usage text unless it is about a file's content). */
export class UsageError extends Error {
  constructor(message: string, readonly showUsage = true) {
    super(message);
  }
}

/** A list flag: repeated, or one value separated by spaces or commas. */
export function list(value: unknown): string[] {
  if (value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.flatMap((item) => String(item).split(/[\s,]+/)).filter(Boolean);
}

export function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || !value) throw new UsageError(`--${name} is required`);
  return value;
}

export function optional(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A list flag that changes something only when given (`--scope ""` clears). */
export function optionalList(values: Values, name: string): string[] | undefined {
  return values[name] === undefined ? undefined : list(values[name]);
}

export function positional(args: string[], what: string, usage: string): string {
  const value = args[0];
  if (!value) throw new UsageError(`${usage} needs ${what}`);
  return value;
}

/** A flag that, when given, must be one of `allowed` (named in that order in the error). */
export function oneOf<T extends string>(values: Values, name: string, allowed: readonly T[]): T | undefined {
  const value = optional(values, name);
  if (value !== undefined && !allowed.includes(value as T)) throw new UsageError(`--${name} must be ${allowed.join(' or ')}`);
  return value as T | undefined;
}

/**
 * A whole-number flag within its bounds, or `fallback` when not given. Out of
 * range is refused like any other bad argument, never brought into range
 * silently: `--limit 100000` printing 500 rows would look like all of them.
 */
export function wholeNumber(values: Values, name: string, bounds: { min: number; max: number; fallback: number }): number {
  const text = optional(values, name);
  if (text === undefined) return bounds.fallback;
  const value = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= bounds.min && value <= bounds.max)) throw new UsageError(`--${name} must be a whole number, ${bounds.min} to ${bounds.max}`);
  return value;
}

/**
 * The command line with every value that begins with one dash made
 * unambiguous for parseArgs. Ids are random: about one session uid, key id
 * or client id in 64 begins with `-` (`-E3x…`), and parseArgs would read it
 * as short options and refuse it (`unknown option -E`), so an id copied
 * from `session list` could not be revoked. Gatehouse spells every option
 * with two dashes (its only short ones are `-h` and `-v`), so a word with one
 * dash is a value: the value of the string flag before it, or else a
 * positional. Positionals keep their order; `--` still ends the options.
 */
export function dashedValuesAsValues(argv: string[], flags: Record<string, { type: 'string' | 'boolean'; short?: string }>): string[] {
  const shorts = new Set(Object.values(flags).flatMap((flag) => (flag.short ? [`-${flag.short}`] : [])));
  const takesValue = (word: string) => /^--[^=]+$/.test(word) && flags[word.slice(2)]?.type === 'string';
  const options: string[] = [];
  const positionals: string[] = [];
  let index = 0;
  for (; index < argv.length && argv[index] !== '--'; index += 1) {
    const word = argv[index]!;
    const next = argv[index + 1];
    if (takesValue(word) && next !== undefined && !next.startsWith('--') && !shorts.has(next)) {
      options.push(`${word}=${next}`);
      index += 1;
    } else if (word.startsWith('--') || shorts.has(word)) options.push(word);
    else positionals.push(word);
  }
  return [...options, '--', ...positionals, ...argv.slice(index + 1)];
}
