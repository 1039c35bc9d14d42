// The test page's script (bundled by esbuild from the npm packages): Uppy with its Tus
// plugin uploads a file generated in the page; window.runUpload resolves with the file's
// SHA-256 (computed by the browser) and Uppy's result.
import Uppy from "@uppy/core";
import Tus from "@uppy/tus";

function randomBytes(size) {
  const bytes = new Uint8Array(size);
  for (let start = 0; start < size; start += 65536) {
    crypto.getRandomValues(bytes.subarray(start, Math.min(start + 65536, size)));
  }
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]); // a PNG signature
  return bytes;
}

async function hex(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

window.runUpload = async ({ endpoint, token, size, chunkSize }) => {
  const bytes = randomBytes(size);
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(Tus, {
    endpoint,
    chunkSize,
    headers: { Authorization: `Bearer ${token}` },
    retryDelays: [0, 500, 1000],
    removeFingerprintOnSuccess: true,
  });
  uppy.addFile({ name: "generated.png", type: "image/png",
                 data: new Blob([bytes], { type: "image/png" }) });
  const result = await uppy.upload();
  return {
    sha256: await hex(bytes),
    uploaded: result.successful.map((file) => file.response.uploadURL),
    failed: result.failed.map((file) => String(file.error)),
  };
};
