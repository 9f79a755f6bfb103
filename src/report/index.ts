/** Pictures of results (DESIGN.md "Results"): colour maps, PNG maps and overlays, run previews. */
export * from "./colormap.js";
export * from "./png.js";
export * from "./previews.js";
