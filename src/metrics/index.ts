/** Error measures (DESIGN.md "Metrics"): illuminated region, aligned relative errors, cPCC, FRC, histories. */
export * from "./mask.js";
export * from "./illumination.js";
export * from "./errors.js";
export * from "./cpcc.js";
export * from "./dft.js";
export * from "./frc.js";
export * from "./history.js";
export * from "./gridArtifact.js";
