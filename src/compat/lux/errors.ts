import { rfc6749Error } from '../shared/oauth-error.js';

/** Lux's API errors: the RFC 6749 shape. */
export const luxError = rfc6749Error;
