/**
 * Counts and seeds the long-running tests take from the environment (FUZZ_N, FUZZ_SEED,
 * LONG_RUN_N). A count of 0 or a fraction would let a test pass having checked nothing (a loop
 * that never runs), and Number('') is 0: anything but a whole number in range is refused.
 */
export function wholeNumberFromEnv(name: string, fallback: number, min: number, why: string): number {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new Error(`${name}=${JSON.stringify(raw)}: must be a whole number >= ${min} (${why}); unset, it is ${fallback}`);
  }
  return Number(raw);
}
