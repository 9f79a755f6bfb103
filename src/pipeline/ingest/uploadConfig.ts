/**
 * Per-upload solver configuration without code, from one of:
 *   - a sidecar JSON object next to the scan: incoming/alice/run-17.h5 -> incoming/alice/run-17.json
 *     (upload it before the scan: the scan's arrival is what triggers processing);
 *   - object metadata on the scan: `x-amz-meta-ptyxrf-config: {"iterations": 500}`
 *     (`aws s3 cp run-17.h5 s3://.../incoming/alice/ --metadata '{"ptyxrf-config":"{\"iterations\":500}"}'`).
 * Both at once is ambiguous and rejected. Either is validated with the solver's own schema (resolveConfig):
 * every invalid field is reported. Absent both, the solver's defaults apply. A correlation mask must be a
 * PNG uploaded beside the scan, named by its key relative to the scan's folder (checkMask).
 */
import crypto from "node:crypto";
import { ConfigError, resolveConfig, type SolverConfig } from "../../solver/config.js";
import type { Problem } from "../../scan/validate.js";
import type { ObjectHead, ObjectStore } from "../storage/objectStore.js";
import { MAX_MASK_BYTES, maskKey, maskKeyProblem } from "../maskKey.js";
import { problem, sidecarKey } from "./keys.js";

export const CONFIG_METADATA_KEY = "ptyxrf-config";
export const MAX_SIDECAR_BYTES = 64 * 1024;

export interface UploadConfig {
  /** The resolved config (defaults filled), or null when invalid. */
  config: SolverConfig | null;
  source: "defaults" | "sidecar" | "metadata";
  /** Where it came from, for messages: s3://... of the sidecar or the metadata header. */
  origin: string | null;
  /** Identifies the configuration: sha256 of the resolved config, or of the raw text when invalid. */
  hash: string;
  problems: Problem[];
}

/** JSON with object keys sorted: the same config always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

function fromText(text: string, where: string, source: UploadConfig["source"]): UploadConfig {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    return {
      config: null, source, origin: where, hash: sha256(`invalid:${text}`),
      problems: [problem("config-json", where, "a JSON object with solver config fields", `text that is not JSON (${(err as Error).message})`)],
    };
  }
  try {
    const config = resolveConfig(input);
    return { config, source, origin: where, hash: sha256(canonicalJson(config)), problems: [] };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return {
      config: null, source, origin: where, hash: sha256(`invalid:${text}`),
      problems: err.problems.map((p) => problem("config-invalid", where, "a valid solver config (docs/cloud.md)", p)),
    };
  }
}

/**
 * The config's correlation mask, checked at upload: a key relative to the scan's folder (never a path on the
 * worker, such as /dev/zero), naming an object that exists and is at most MAX_MASK_BYTES. The worker reads it
 * (capped) and checks it is a PNG before the reconstruction (correlationMask.ts).
 */
async function checkMask(store: ObjectStore, head: ObjectHead, cfg: UploadConfig): Promise<UploadConfig> {
  const mask = cfg.config?.correlation.mask;
  if (!mask) return cfg;
  const where = cfg.origin ?? `s3://${head.bucket}/${head.key}`;
  const folder = `s3://${head.bucket}/${maskKey(head.key, "")}`;
  const expected = `"correlation.mask": a PNG key relative to the scan's folder ${folder} (e.g. "cells.png" for ${folder}cells.png)`;
  let found: string | null = null;
  let hint: string | undefined;
  if (maskKeyProblem(mask)) {
    found = `${JSON.stringify(mask)}: not a key relative to the scan's folder (a path on the worker is never read)`;
    hint = "letters, digits, . _ - and /, no \".\" or \"..\" segments, ending in .png";
  } else {
    const object = await store.head(head.bucket, maskKey(head.key, mask));
    if (!object) {
      found = `no object ${folder}${mask}`;
      hint = "upload the label image before the scan";
    } else if (object.size > MAX_MASK_BYTES) {
      found = `${folder}${mask} of ${object.size} bytes, more than the ${MAX_MASK_BYTES} a label image may have`;
    }
  }
  if (found === null) return cfg;
  return { ...cfg, config: null, hash: sha256(`mask:${cfg.hash}:${found}`), problems: [...cfg.problems, problem("config-mask", where, expected, found, hint)] };
}

export async function loadUploadConfig(store: ObjectStore, head: ObjectHead, maxBytes = MAX_SIDECAR_BYTES): Promise<UploadConfig> {
  return checkMask(store, head, await readUploadConfig(store, head, maxBytes));
}

async function readUploadConfig(store: ObjectStore, head: ObjectHead, maxBytes: number): Promise<UploadConfig> {
  const meta = head.metadata[CONFIG_METADATA_KEY];
  const sideKey = sidecarKey(head.key);
  const sideUri = `s3://${head.bucket}/${sideKey}`;
  const sidecar = await store.getText(head.bucket, sideKey, maxBytes + 1);
  const metaWhere = `s3://${head.bucket}/${head.key}@x-amz-meta-${CONFIG_METADATA_KEY}`;
  if (meta !== undefined && sidecar) {
    const base = fromText(meta, metaWhere, "metadata");
    return {
      ...base, config: null, hash: sha256(`conflict:${meta}:${sidecar.etag}`),
      problems: [...base.problems, problem("config-conflict", sideUri, `one config: the sidecar or the ${CONFIG_METADATA_KEY} metadata`, "both", "remove one of them")],
    };
  }
  if (meta !== undefined) return fromText(meta, metaWhere, "metadata");
  if (!sidecar) {
    const config = resolveConfig({});
    return { config, source: "defaults", origin: null, hash: sha256(canonicalJson(config)), problems: [] };
  }
  if (sidecar.size > maxBytes) {
    return {
      config: null, source: "sidecar", origin: sideUri, hash: sha256(`too-large:${sidecar.etag}`),
      problems: [problem("config-too-large", sideUri, `a config of at most ${maxBytes} bytes`, `${sidecar.size} bytes`)],
    };
  }
  return fromText(sidecar.text, sideUri, "sidecar");
}
