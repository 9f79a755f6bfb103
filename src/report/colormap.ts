/**
 * Colour maps as 256-entry RGB look-up tables (Uint8Array of 768 bytes, entry i = bytes 3i..3i+2):
 *
 *   viridis   perceptually uniform sequential (amplitude, element maps): the published 256-colour table of
 *             matplotlib's viridis (van der Walt & Smith), as sRGB hex (the same table d3-scale-chromatic ships).
 *   twilight  perceptually uniform cyclic (wrapped phase): matplotlib's twilight (Bastian Schmidt), 510 published
 *             colours, here the control points at every 16th entry plus the dark turning point (entry 255),
 *             linearly interpolated in sRGB; light at both ends, dark in the middle: -pi and +pi look the same.
 *   grey      linear grey ramp, black to white.
 */

export type Lut = Uint8Array;
export type ColormapName = "viridis" | "twilight" | "grey";
export type Rgb = [number, number, number];

const VIRIDIS_HEX =
  "44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769" +
  "48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a" +
  "472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85" +
  "4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b" +
  "3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d" +
  "33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e" +
  "2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e" +
  "26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d" +
  "21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88" +
  "1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81" +
  "28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74" +
  "3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863" +
  "5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d" +
  "84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32" +
  "addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a" +
  "d8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725";

/** matplotlib twilight: [entry index of 0..509, r, g, b]. */
const TWILIGHT_POINTS: Array<[number, number, number, number]> = [
  [0, 0.8858, 0.8500, 0.8880], [16, 0.8403, 0.8426, 0.8653], [32, 0.7619, 0.8071, 0.8303],
  [48, 0.6672, 0.7595, 0.7986], [64, 0.5778, 0.7061, 0.7783], [80, 0.5029, 0.6490, 0.7652],
  [96, 0.4449, 0.5885, 0.7551], [112, 0.4053, 0.5246, 0.7445], [128, 0.3831, 0.4571, 0.7298],
  [144, 0.3736, 0.3860, 0.7077], [160, 0.3697, 0.3117, 0.6746], [176, 0.3641, 0.2354, 0.6262],
  [192, 0.3492, 0.1616, 0.5563], [208, 0.3168, 0.1039, 0.4605], [224, 0.2667, 0.0743, 0.3542],
  [240, 0.2174, 0.0659, 0.2663], [255, 0.1849, 0.0794, 0.2131], [272, 0.2327, 0.0676, 0.2304],
  [288, 0.3008, 0.0766, 0.2618], [304, 0.3816, 0.0942, 0.2928], [320, 0.4639, 0.1201, 0.3111],
  [336, 0.5394, 0.1602, 0.3147], [352, 0.6041, 0.2146, 0.3123], [368, 0.6583, 0.2780, 0.3135],
  [384, 0.7032, 0.3472, 0.3241], [400, 0.7388, 0.4205, 0.3491], [416, 0.7655, 0.4968, 0.3935],
  [432, 0.7851, 0.5742, 0.4606], [448, 0.8026, 0.6503, 0.5494], [464, 0.8245, 0.7226, 0.6531],
  [480, 0.8525, 0.7873, 0.7595], [496, 0.8757, 0.8355, 0.8458], [509, 0.8857, 0.8500, 0.8857],
];

function fromHex(hex: string): Lut {
  const lut = new Uint8Array(768);
  for (let i = 0; i < 768; i++) lut[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return lut;
}

/**
 * A 256-entry LUT from control points [position, r, g, b] (positions increasing, any scale: they are mapped
 * from [first, last] onto entries 0..255; colours in [0, 1]), linearly interpolated.
 */
export function lutFromControlPoints(points: ReadonlyArray<readonly [number, number, number, number]>): Lut {
  if (points.length < 2) throw new Error("lutFromControlPoints: need at least two control points");
  const t0 = points[0][0], t1 = points[points.length - 1][0];
  const lut = new Uint8Array(768);
  let k = 0;
  for (let i = 0; i < 256; i++) {
    const t = t0 + ((t1 - t0) * i) / 255;
    while (k < points.length - 2 && points[k + 1][0] < t) k++;
    const [ta, ...a] = points[k], [tb, ...b] = points[k + 1];
    const f = tb > ta ? Math.min(1, Math.max(0, (t - ta) / (tb - ta))) : 0;
    for (let c = 0; c < 3; c++) lut[3 * i + c] = Math.round(255 * ((1 - f) * a[c] + f * b[c]));
  }
  return lut;
}

function greyLut(): Lut {
  const lut = new Uint8Array(768);
  for (let i = 0; i < 256; i++) lut[3 * i] = lut[3 * i + 1] = lut[3 * i + 2] = i;
  return lut;
}

export const COLORMAPS: Readonly<Record<ColormapName, Lut>> = {
  viridis: fromHex(VIRIDIS_HEX),
  twilight: lutFromControlPoints(TWILIGHT_POINTS),
  grey: greyLut(),
};

/** The LUT of a named map, or the LUT itself. */
export function resolveColormap(map: ColormapName | Lut): Lut {
  if (typeof map !== "string") {
    if (map.length !== 768) throw new Error(`colormap: a LUT must have 256 x 3 = 768 entries, got ${map.length}`);
    return map;
  }
  const lut = COLORMAPS[map];
  if (!lut) throw new Error(`unknown colormap "${map}" (${Object.keys(COLORMAPS).join(", ")})`);
  return lut;
}

/** Colour of LUT entry i (clamped to 0..255). */
export function lutColour(lut: Lut, i: number): Rgb {
  const k = Math.max(0, Math.min(255, Math.round(i)));
  return [lut[3 * k], lut[3 * k + 1], lut[3 * k + 2]];
}

/** Colour at t in [0, 1] (clamped; NaN gives entry 0). */
export function colourAt(map: ColormapName | Lut, t: number): Rgb {
  const lut = resolveColormap(map);
  return lutColour(lut, Number.isNaN(t) ? 0 : Math.floor(Math.max(0, Math.min(1, t)) * 255.999));
}
