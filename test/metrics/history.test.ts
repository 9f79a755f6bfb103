import { describe, expect, it } from "vitest";
import { History } from "../../src/metrics/history.js";

function sample(): History {
  const h = new History({ run: "test", engine: "cpu" });
  h.append({ iteration: 0, time_s: 0.5, losses: { ptycho: 10, xrf: 2 }, weights: { w_p: 1, w_x: 1 }, steps: { object: 0.1 } });
  h.append({
    iteration: 1, time_s: 1.25, losses: { ptycho: 5, xrf: 1.5, tv: NaN }, weights: { w_p: 1.2, w_x: 0.8 },
    steps: { object: 0.1, probe: 0.01 }, errors: { object: 0.3, Fe: Infinity },
  });
  return h;
}

describe("History", () => {
  it("appends copies and gives columns", () => {
    const h = sample();
    const losses = { ptycho: 1 };
    h.append({ iteration: 2, time_s: 2, losses, weights: {}, steps: {} });
    losses.ptycho = 99;
    expect(h.length).toBe(3);
    expect(h.last()?.losses.ptycho).toBe(1);
    expect(Array.from(h.column("losses", "ptycho"))).toEqual([10, 5, 1]);
    expect(h.column("losses", "tv")[0]).toBeNaN();
    expect(h.names("steps")).toEqual(["object", "probe"]);
  });

  it("rejects decreasing iterations and bad times", () => {
    const h = sample();
    expect(() => h.append({ iteration: 0, time_s: 3, losses: {}, weights: {}, steps: {} })).toThrow(/iteration 0 after iteration 1/);
    expect(() => h.append({ iteration: 2.5, time_s: 3, losses: {}, weights: {}, steps: {} })).toThrow(/integer/);
    expect(() => h.append({ iteration: 3, time_s: NaN, losses: {}, weights: {}, steps: {} })).toThrow(/time_s/);
  });

  it("round-trips through JSON, non-finite numbers as null", () => {
    const h = sample();
    const text = JSON.stringify(h);
    const parsed = JSON.parse(text);
    expect(parsed.version).toBe(1);
    expect(parsed.meta).toEqual({ run: "test", engine: "cpu" });
    expect(parsed.records[1].losses.tv).toBeNull();
    expect(parsed.records[1].errors.Fe).toBeNull();
    expect(parsed.records[0].errors).toBeUndefined();
    const back = History.fromJSON(text);
    expect(back.length).toBe(2);
    expect(back.records[1].losses.tv).toBeNaN();
    expect(back.records[1].errors?.object).toBe(0.3);
    expect(back.records[0]).toEqual(h.records[0]);
    expect(History.fromJSON(h.serialize(2)).meta).toEqual(h.meta);
    expect(() => History.fromJSON("{}")).toThrow(/version: 1/);
  });

  it("exports CSV with one column per term", () => {
    const lines = sample().toCSV().trimEnd().split("\n");
    expect(lines[0]).toBe("iteration,time_s,loss.ptycho,loss.xrf,loss.tv,weight.w_p,weight.w_x,step.object,step.probe,error.object,error.Fe");
    expect(lines[1]).toBe("0,0.5,10,2,,1,1,0.1,,,");
    expect(lines[2]).toBe("1,1.25,5,1.5,NaN,1.2,0.8,0.1,0.01,0.3,Infinity");
  });
});
