/** A segmentation input the model cannot take (size, crop, GPU limits): one line saying which and why. */
export class SegInputError extends Error {
  constructor(message: string) { super(message); this.name = 'SegInputError'; }
}
