// ONNX Runtime's side of bench/compare_ort.py: eval throughput at batch 256 and batch-1 latency of
// an ONNX file (a zoo model written by `wick export`), in the JSON shape `wick bench --json` prints
// for those workloads. Inputs are random normalized-range values (the speed does not depend on them).
//   NODE_PATH=tools/onnxruntime/node_modules node bench/ort_zoo.js --onnx M.onnx --threads 2 --only eval256
const ort = require('onnxruntime-node');

function args() {
  const a = {onnx: '', threads: 2, only: 'eval256,latency', repeats: 5, steps: 0, shape: '1,28,28'};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in a) || i + 1 >= argv.length) throw new Error(`unknown or valueless flag ${argv[i]}`);
    a[key] = typeof a[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!a.onnx) throw new Error('--onnx FILE is required');
  return a;
}

function input(batch, shape) {
  const dims = [batch, ...shape.split(',').map(Number)];
  const data = new Float32Array(dims.reduce((x, y) => x * y, 1));
  for (let i = 0; i < data.length; ++i) data[i] = Math.random() * 3 - 1;
  return new ort.Tensor('float32', data, dims);
}

const median = (v) => [...v].sort((x, y) => x - y)[Math.floor((v.length - 1) / 2)];

async function main() {
  const a = args();
  const session = await ort.InferenceSession.create(a.onnx, {intraOpNumThreads: a.threads, interOpNumThreads: 1,
                                                             executionMode: 'sequential', graphOptimizationLevel: 'all'});
  const out = {model: a.onnx, threads: a.threads, runtime: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version};
  const only = a.only.split(',');
  if (only.includes('eval256')) {
    const x = input(256, a.shape), steps = a.steps || 5, rates = [];
    for (let i = 0; i < 3; ++i) await session.run({input: x});
    for (let r = 0; r < a.repeats; ++r) {
      const t0 = process.hrtime.bigint();
      for (let s = 0; s < steps; ++s) await session.run({input: x});
      rates.push(256 * steps / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
    out.eval256 = {batch: 256, img_per_s: median(rates), img_per_s_min: Math.min(...rates),
                   img_per_s_max: Math.max(...rates), repeats: a.repeats, steps};
  }
  if (only.includes('latency')) {
    const x = input(1, a.shape), steps = a.steps || 200, ms = [];
    for (let i = 0; i < 50; ++i) await session.run({input: x});
    for (let r = 0; r < a.repeats; ++r)
      for (let s = 0; s < steps; ++s) {
        const t0 = process.hrtime.bigint();
        await session.run({input: x});
        ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    ms.sort((x, y) => x - y);
    out.latency = {batch: 1, median_ms: median(ms), p99_ms: ms[Math.ceil(0.99 * ms.length) - 1],
                   min_ms: ms[0], max_ms: ms[ms.length - 1], repeats: a.repeats, steps};
  }
  out.peak_rss_mib = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error('ort_zoo: ' + e.message);
  process.exit(1);
});
