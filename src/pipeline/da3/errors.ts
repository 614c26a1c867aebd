/** The one error type of the Depth Anything 3 pipeline: bad views, cameras or options. */
export class Da3InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Da3InputError';
  }
}
