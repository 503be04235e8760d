/** Collect a (sync or async) iterable into an array. */
export async function all<T> (source: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) out.push(item)
  return out
}
