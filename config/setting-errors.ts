import { existsSync, lstatSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

/**
 * Raised when a setting is invalid; the message names the environment
 * variable. Start-up (src/server.ts) and the CLI (src/cli/execute.ts) print
 * it as one line, without a stack: the operator has a setting to change,
 * not a bug to report. It lives here, beside the settings, so that the
 * storage adapters can raise it too about a folder a setting names.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The nearest of `path` and the folders above it that exists and is not a folder, if any. */
function notAFolderOn(path: string): string | undefined {
  for (let at = resolve(path); ; at = dirname(at)) {
    try {
      if (!statSync(at).isDirectory()) return at;
    } catch {
      // Not there, or itself under something that is not a folder: look higher.
    }
    if (dirname(at) === at) return undefined;
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A symbolic link whose target does not exist (what mkdir then says depends on the target's path). */
function isBrokenLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink() && !existsSync(path);
  } catch {
    return false;
  }
}

/** The highest of `path` and the folders above it that does not exist (the one to create), if any. */
function firstMissingOn(path: string): string | undefined {
  let at = resolve(path);
  if (existsSync(at)) return undefined;
  while (dirname(at) !== at && !existsSync(dirname(at))) at = dirname(at);
  return at;
}

/** The error's own path when it is `path` or inside it (a file in the folder a setting names), otherwise `path`. */
function refusedPath(error: NodeJS.ErrnoException, path: string): string {
  const given = resolve(path);
  const own = error.path === undefined ? undefined : resolve(error.path);
  return own !== undefined && (own === given || own.startsWith(given + sep)) ? own : given;
}

/**
 * What a filesystem error says about `path` (a path an operator gave: a
 * setting, a --file) in words, or undefined when the error is not about the
 * path at all (a fault). The error's own path may be another one (a
 * temporary file beside `path`, a file inside the folder `path` names), so
 * the words are about `path` and what is in its way.
 */
export function pathProblem(error: unknown, path: string): string | undefined {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    // EEXIST: what mkdir says when a file stands where the folder would go.
    case 'ENOTDIR':
    case 'EEXIST': {
      const blocker = notAFolderOn(path);
      if (blocker) return `${blocker} is not a folder`;
      // A file written to a path that names a folder (rename says ENOTDIR when the path ends in /).
      if (isFolder(path)) return `${resolve(path)} is a folder`;
      if (isBrokenLink(path)) return `${resolve(path)} is a symbolic link to something that does not exist`;
      return path.endsWith('/') || path.endsWith(sep) ? `${path} ends in ${sep}, as a folder's name does` : undefined;
    }
    case 'ENOENT': {
      if (isBrokenLink(path)) return `${resolve(path)} is a symbolic link to something that does not exist`;
      // About something inside `path` that went missing (a race), not about `path`: a fault.
      const missing = firstMissingOn(path);
      return missing && `${missing} does not exist`;
    }
    case 'EISDIR':
      return `${resolve(path)} is a folder`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${refusedPath(error as NodeJS.ErrnoException, path)} (or a folder above it) for this process's user`;
    case 'EROFS':
      return `${resolve(path)} is on a read-only file system`;
    case 'ELOOP':
      return `${resolve(path)} leads through too many symbolic links`;
    case 'ENAMETOOLONG':
      return `${resolve(path)} is too long a name`;
    default:
      return undefined;
  }
}

/**
 * Runs `work` on the file or folder the setting `env` names (`path`), so
 * that the filesystem refusing that path (a file where the folder should
 * be, no permission) is a ConfigError naming the setting, as a malformed
 * value is, rather than a fault with a stack trace.
 */
export async function onSettingPath<T>(env: string, path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const problem = pathProblem(error, path);
    if (problem === undefined) throw error;
    throw new ConfigError(`${env} (${resolve(path)}) cannot be used: ${problem}`, { cause: error });
  }
}
