// Runs an ONNX file in ONNX Runtime (npm onnxruntime-node) on float32 inputs and writes its
// outputs: the runtime half of tests/test_onnx.cpp. The model's input is "input", its output
// "output"; every file is raw little-endian float32.
//   node run_ort.js MODEL.onnx IN.bin N,C,H,W OUT.bin [IN.bin SHAPE OUT.bin ...]
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, ...runs] = process.argv.slice(2);
  if (!model || runs.length === 0 || runs.length % 3 !== 0) throw new Error('usage: run_ort.js MODEL IN SHAPE OUT ...');
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1, interOpNumThreads: 1});
  for (let i = 0; i < runs.length; i += 3) {
    const bytes = fs.readFileSync(runs[i]);
    const x = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const dims = runs[i + 1].split(',').map(Number);
    const y = (await session.run({input: new ort.Tensor('float32', x, dims)})).output.data;
    fs.writeFileSync(runs[i + 2], Buffer.from(y.buffer, y.byteOffset, y.byteLength));
  }
}

main().catch((e) => {
  console.error('run_ort: ' + e.message);
  process.exit(1);
});
