/** Reads the ground-truth file the simulator writes (layout: layout.ts TRUTH_PATHS). */
import { FileSource, PagedSource } from "./byteSource.js";
import { getDataset, getGroup, numericAttr, textAttr } from "./h5access.js";
import { h5ErrorMessage, openFromSource } from "./h5runtime.js";
import { TRUTH_PATHS } from "./layout.js";
import type { Truth } from "./model.js";
import { readProbe, ScanFormatError } from "./read.js";

export async function readTruth(path: string): Promise<Truth> {
  const source = new PagedSource(new FileSource(path));
  let dev;
  try {
    dev = await openFromSource(source);
  } catch (err) {
    source.close();
    throw new ScanFormatError(`${path}: cannot open as HDF5: ${h5ErrorMessage(err)}`);
  }
  const f = dev.file;
  try {
    const need = (p: string) => {
      const d = getDataset(f, p);
      if (!d) throw new ScanFormatError(`${path}: not a ptyxrf truth file (missing ${p})`);
      return d;
    };
    const obj = need(TRUTH_PATHS.object);
    const [height, width] = obj.shape!;
    const elementMaps: Record<string, Float32Array> = {};
    const group = getGroup(f, TRUTH_PATHS.elementMaps);
    for (const el of group?.keys() ?? []) elementMaps[el] = Float32Array.from(need(`${TRUTH_PATHS.elementMaps}/${el}`).value as ArrayLike<number>);
    const pixelSize = numericAttr(f, "pixel_size_m");
    if (pixelSize === undefined) throw new ScanFormatError(`${path}: missing attribute pixel_size_m`);
    return {
      object: { height, width, data: Float32Array.from(obj.value as ArrayLike<number>) },
      probe: readProbe(need(TRUTH_PATHS.probe)),
      elementMaps,
      matrix: Float32Array.from(need(TRUTH_PATHS.matrix).value as ArrayLike<number>),
      positions_m: Float64Array.from(need(TRUTH_PATHS.positions_m).value as ArrayLike<number>),
      positions_px: Float64Array.from(need(TRUTH_PATHS.positions_px).value as ArrayLike<number>),
      pixelSize_m: pixelSize,
      link: JSON.parse(textAttr(f, "link") ?? "null"),
      provenance: JSON.parse(textAttr(f, "provenance") ?? "{}"),
    };
  } finally {
    dev.close();
    source.close();
  }
}
