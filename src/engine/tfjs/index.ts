/** The tfjs engine: TensorFlow.js ops, on tfjs-node-gpu in the GPU container and tfjs's CPU backend elsewhere. */
export { TfjsEngine, planFor, type TfjsEngineOptions, type TfjsPlan } from "./tfjsEngine.js";
export { autoEngine, fallbackReason, type AutoEngineOptions } from "./auto.js";
export { activate, checkFloat32, loadRuntime, parseBytes, prepareGpuEnvironment, queryGpu, type TfjsBackendChoice, type TfjsRuntime } from "./backend.js";
export { CenteredFft2, type Cx, type FftMethod } from "./fft.js";
