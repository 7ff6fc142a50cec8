/** Values per `IN (…)` list: well under SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 500;

/** Runs `select` once per chunk of `values` and concatenates what it returns. */
export async function selectInChunks<V, R>(
  values: readonly V[],
  select: (chunk: V[]) => Promise<R[]>,
): Promise<R[]> {
  const all: R[] = [];
  for (let i = 0; i < values.length; i += CHUNK) {
    for (const row of await select(values.slice(i, i + CHUNK))) all.push(row);
  }
  return all;
}
