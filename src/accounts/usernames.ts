/**
 * When two spellings name the same account. Creation, sign-in lookup and the
 * brute-force counters all compare this key and nothing else, so a spelling
 * that signs in as an account is always counted against that account.
 *
 * The rule follows RFC 8265 §3.4 (PRECIS UsernameCaseMapped): width mapping,
 * then lower case with Unicode toLowerCase, then normalization. NFKC does the
 * width mapping and also folds other compatibility forms (fullwidth
 * `ａｌｉｃｅ`, the Kelvin sign, mathematical letters) into the letters they
 * stand for; NFKC again after lower-casing, as lower-casing can un-normalize.
 * Case-insensitive SQL `lower()` is not used: its mapping depends on the
 * database's locale, and differs from JavaScript's (`İ`, U+0130).
 *
 * Usernames are created only from `USERNAME_CHARACTERS` (ASCII), so every
 * stored key is plain lower-case ASCII. A spelling whose key is not (`alİce`
 * becomes `ali̇ce`, with a combining dot) matches no account and is refused.
 */
export function usernameKey(username: string): string {
  return username.normalize('NFKC').toLowerCase().normalize('NFKC');
}

/** What a new username may be made of, as typed. */
export const USERNAME_CHARACTERS = /^[A-Za-z0-9._@+-]{1,64}$/;

// The form of an account id (a UUID): every surface that names a user takes an id or a username.
const ACCOUNT_ID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What is wrong with `username` as a new username, if anything. One shaped
 * like an account id is refused: the CLI, the console and the admin API take
 * "an id or a username", and a user who chose another account's id (its
 * `sub`, which every relying party sees) as their username at an old
 * service would otherwise be reached in that account's place, or shadow it.
 */
export function usernameProblem(username: unknown): string | undefined {
  if (typeof username !== 'string' || !USERNAME_CHARACTERS.test(username)) return 'must be 1-64 characters of letters, digits and . _ @ + -';
  if (ACCOUNT_ID_SHAPE.test(username)) return 'must not have the form of an account id (a UUID)';
  return undefined;
}
