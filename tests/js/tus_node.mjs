// tus-js-client under Node, unmodified: uploads a file in chunks; in "resume" mode it stops
// half way (abort), then starts again and finishes from the offset the server reports.
// Usage: node tus_node.mjs <endpoint> <token> <file> <chunkSize> [plain|resume]
// Prints {"url": ..., "resumedAt": ...} on success.
import fs from "node:fs";
import * as tus from "tus-js-client";

const [endpoint, token, path, chunkSize, mode = "plain"] = process.argv.slice(2);
const data = fs.readFileSync(path);
let resumedAt = null;
let stopped = false;

const upload = new tus.Upload(data, {
  endpoint,
  chunkSize: Number(chunkSize),
  headers: { Authorization: `Bearer ${token}` },
  metadata: { filename: "node.png", filetype: "image/png", project_id: "proj_node" },
  retryDelays: [0, 500, 1000],
  onProgress(sent) {
    if (mode === "resume" && !stopped && sent >= data.length / 2) {
      stopped = true;
      upload.abort().then(() => {
        upload.options.onAfterResponse = (req, res) => {
          if (req.getMethod() === "HEAD" && resumedAt === null) {
            resumedAt = Number(res.getHeader("Upload-Offset"));
          }
        };
        upload.start();
      });
    }
  },
  onError(error) {
    console.error(String(error));
    process.exit(1);
  },
  onSuccess() {
    console.log(JSON.stringify({ url: upload.url, resumedAt }));
  },
});
upload.start();
