import { rfc6749Error } from '../shared/oauth-error.js';

/** LE Enterprise errors: the RFC 6749 shape. */
export const leError = rfc6749Error;
