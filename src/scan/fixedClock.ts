/**
 * HDF5 stamps every dataset's object header with the time it was written (H5Pset_obj_track_times, on by
 * default; h5wasm 0.8 exposes no way to turn it off), so two writes of the same data differed in a few bytes
 * and the scan sha256 that provenance records was not reproducible. h5wasm's runtime reads the time from
 * Date.now() when HDF5 asks (emscripten_date_now), so a write run synchronously under a fixed Date.now()
 * stamps every object with that time: files then depend on their contents only.
 *
 * The stamp is 0 (1970-01-01T00:00:00Z: "no time"). Only synchronous code may run inside: no other task can
 * observe the fixed clock, since nothing else runs on the thread until it returns.
 */
export const HDF5_OBJECT_TIME_MS = 0;

export function withFixedClock<T>(fn: () => T): T {
  const now = Date.now;
  Date.now = () => HDF5_OBJECT_TIME_MS;
  try {
    const out = fn();
    if (out instanceof Promise) throw new Error("withFixedClock: fn must be synchronous");
    return out;
  } finally {
    Date.now = now;
  }
}
