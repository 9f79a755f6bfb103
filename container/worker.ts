/**
 * Entry point of the GPU Batch worker image (and of the local job runner's child processes):
 * `node dist/container/worker.js --scan ... --scan-version ... --out ... --config ... --user ...`
 * (src/pipeline/submit/jobSpec.ts WORKER_COMMAND). A thin wrapper: the logic is src/pipeline/worker.
 */
import { consoleLogger } from "../src/pipeline/ingest/log.js";
import { installSignalHandlers, workerMain } from "../src/pipeline/worker/main.js";
import { StopSignal } from "../src/pipeline/worker/worker.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const stop = new StopSignal();
const grace = Number(process.env.PTYXRF_STOP_GRACE_SECONDS ?? "25");
installSignalHandlers(stop, consoleLogger, (Number.isFinite(grace) && grace > 0 ? grace : 25) * 1000);
const code = await workerMain(process.argv.slice(2), process.env, { stop });
process.exit(code);
