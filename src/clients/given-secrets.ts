import type { FieldProblem } from '../errors/app-error.js';

/**
 * The rule for a client secret an administrator gives (`client create
 * --client-secret`, `client rotate-secret --client-secret`) instead of a
 * generated one. Apart from the client service so that the CLI's command
 * table can name the bound in its help without loading the service.
 */

/** The shortest secret an administrator may give a client (`client create --client-secret`): 32 characters, as Gatehouse's own 256-bit secrets are 43. */
export const CLIENT_SECRET_MIN_LENGTH = 32;
export const CLIENT_SECRET_MAX_LENGTH = 512;

export function givenSecretProblems(secret: string, isPublic: boolean): FieldProblem[] {
  if (isPublic) return [{ field: 'client_secret', message: 'a public client has no secret' }];
  if (typeof secret !== 'string' || secret.length < CLIENT_SECRET_MIN_LENGTH || secret.length > CLIENT_SECRET_MAX_LENGTH || /[\s\p{Cc}]/u.test(secret)) {
    return [{ field: 'client_secret', message: `must be ${CLIENT_SECRET_MIN_LENGTH} to ${CLIENT_SECRET_MAX_LENGTH} characters, without spaces or control characters` }];
  }
  return [];
}
