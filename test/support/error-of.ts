/** The error a call throws or rejects with; fails the test when it does neither. */
export async function errorOf(work: () => unknown): Promise<Error & { code?: string }> {
  try {
    await work();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected an error, but the call succeeded');
}
