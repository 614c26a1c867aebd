/** Closes the shared Chromium of test/global_setup.ts. */
export default async function globalTeardown(): Promise<void> {
  const g = globalThis as { sharedChromium?: { close(): Promise<void> }[] };
  await Promise.all((g.sharedChromium ?? []).map((b) => b.close()));
}
