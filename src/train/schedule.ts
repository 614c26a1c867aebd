import { Schedule } from '../config/train';

/**
 * The base learning rate step `step` (1-based) runs with, out of `total` steps. poly: set after
 * each step from that step's 0-based index, so steps 1 and 2 both run at base; linear: set before.
 */
export function lrAtStep(schedule: Schedule, base: number, step: number, total: number): number {
  if (!(Number.isInteger(step) && step >= 1)) throw new Error(`lrAtStep: step must be a positive integer, got ${step}`);
  if (schedule.kind === 'linear') return base * (1 - (step - 1) / total);
  const iters = Math.max(0, step - 2); // the index of the step that set it
  return step === 1 ? base : base * (1 - iters / total) ** schedule.power;
}
