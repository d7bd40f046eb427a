/**
 * The one error family outside the OAuth protocol (the protocol's own errors
 * are oidc-provider's `errors.*`). `message` is safe to show to the caller when
 * `expose` is true; `detail` is for the log only and never sent.
 */
export class AppError extends Error {
  override name = 'AppError';
  readonly expose: boolean;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: string,
    /** Response headers the error calls for, whatever shape renders it (Retry-After on a 429). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.expose = status < 500;
  }
}

export interface FieldProblem {
  field: string;
  message: string;
}

/** The input is well-formed but breaks a rule; `fields` says which and why. */
export class ValidationError extends AppError {
  override name = 'ValidationError';

  constructor(readonly fields: FieldProblem[]) {
    super(422, 'invalid_input', fields.map((f) => `${f.field}: ${f.message}`).join('; '));
  }
}

export class NotFoundError extends AppError {
  override name = 'NotFoundError';

  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

/** The request conflicts with existing state (a taken id or username). */
export class ConflictError extends AppError {
  override name = 'ConflictError';

  constructor(readonly field: string, message: string) {
    super(409, 'conflict', message);
  }
}

/**
 * A write that lost a race: what the change was judged against (an edit
 * form's `asSeen`, or the values a retried change read) was changed by
 * someone else before it could be written, and nothing was written. Edit
 * pages answer it with the current values (web/form-version.ts); any other
 * ConflictError is about the change itself (a taken name, the last
 * administrator), which the same page answers beside the field.
 */
export class StaleWriteError extends ConflictError {
  override name = 'StaleWriteError';
}

/**
 * `fields` of a change were changed by someone else since the caller saw
 * the record it judged the change against (an edit form's `asSeen`).
 */
export function changedSinceSeen(fields: readonly string[]): StaleWriteError {
  return new StaleWriteError(fields[0] ?? 'record', `${fields.join(', ')} changed by someone else since this change was made; nothing was saved`);
}

/** A request body past the limit of whatever reads it (RFC 9110 §15.5.14). */
export class PayloadTooLargeError extends AppError {
  override name = 'PayloadTooLargeError';

  constructor() {
    super(413, 'invalid_request', 'request body too large');
  }
}

/**
 * A request body with a Content-Encoding other than identity (RFC 9110
 * §15.5.16). Nothing in Gatehouse decodes one, and a body read as it came
 * while a proxy in front decoded it (or the other way round) would be two
 * different requests, so it is refused rather than read or ignored.
 */
export class UnsupportedContentEncodingError extends AppError {
  override name = 'UnsupportedContentEncodingError';

  constructor(encoding: string) {
    super(415, 'invalid_request', `Content-Encoding ${encoding.slice(0, 40)} is not supported; send the body unencoded (identity)`);
  }
}
