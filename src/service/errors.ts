/**
 * The API's errors: JSON `{ "error": { "code", "message" } }` with a status that says whose fault
 * it is. `toApiError` sorts whatever a request's handling threw; only what is left (a bug) is a 500.
 */
import { ImageError } from '../node/image';
import { PreprocessError } from '../pipeline/preprocess';
import { JobInputError } from '../node/run_job';
import { SegInputError } from '../semseg/errors';
import { SegPreprocessError } from '../semseg/preprocess';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What fastify and its plugins throw for a request, by their error codes. */
const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'body_too_large'],
  FST_REQ_FILE_TOO_LARGE: [413, 'body_too_large'],
  FST_PARTS_LIMIT: [413, 'body_too_large'],
  FST_FILES_LIMIT: [400, 'bad_request'],
  FST_FIELDS_LIMIT: [400, 'bad_request'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'empty_body'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_request'],
  FST_ERR_CTP_EMPTY_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_CTP_INVALID_TYPE: [415, 'unsupported_media_type'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'unsupported_media_type'],
  FST_ERR_VALIDATION: [400, 'bad_parameter'],
};

/** Errors of the library that an input causes (the request's fault, not the server's). */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const err = e as Error & { code?: string; statusCode?: number; validation?: unknown };
  const msg = err?.message ?? String(e);
  if (err?.validation) return new ApiError(400, 'bad_parameter', msg);
  const known = err?.code ? FASTIFY_CODES[err.code] : undefined;
  if (known) {
    const text = known[0] === 415 ? `${msg}: send the image's bytes with Content-Type image/jpeg, image/png, image/webp, image/tiff, image/gif or image/avif, or multipart/form-data with a file field "image"` : msg;
    return new ApiError(known[0], known[1], text);
  }
  if (e instanceof ImageError) {
    return /larger than \d+ pixels/.test(msg) ? new ApiError(413, 'too_many_pixels', msg) : new ApiError(400, 'bad_image', msg);
  }
  if (e instanceof PreprocessError || e instanceof JobInputError || e instanceof SegInputError || e instanceof SegPreprocessError) return new ApiError(400, 'bad_parameter', msg);
  // The backends' limit checks (wasm's 4 GiB, GPU bindings): the input is too large for this server.
  if (/does not fit the wasm backend|exceeds a \w+ limit/.test(msg)) return new ApiError(413, 'too_large', msg);
  // Any other 4xx fastify decided (a malformed request line, a bad header).
  if (typeof err?.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return new ApiError(err.statusCode, 'bad_request', msg);
  return new ApiError(500, 'internal', msg);
}

export const errorBody = (e: ApiError) => ({ error: { code: e.code, message: e.message } });
