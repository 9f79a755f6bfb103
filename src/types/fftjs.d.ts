/**
 * Types for fft.js (radix-4 complex FFT of a power-of-two size). Its bundled declaration types every argument
 * as `any`; this one states what ptyxrf relies on: interleaved re/im arrays of length 2 * size, `out` distinct
 * from `data`, forward kernel exp(-2 pi i k n / size), `inverseTransform` divides by size.
 */
declare module "fft.js" {
  type ComplexBuffer = Float64Array | Float32Array | number[];
  export default class FFT {
    constructor(size: number);
    readonly size: number;
    createComplexArray(): number[];
    transform(out: ComplexBuffer, data: ComplexBuffer): void;
    inverseTransform(out: ComplexBuffer, data: ComplexBuffer): void;
  }
}
