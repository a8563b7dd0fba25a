// Uploads a file with tus-js-client (the tus project's own client, from npm) as a script or CI job
// would, and reports on stdout, one JSON object per line: "chunk" after every acknowledged chunk,
// then "success" or "error". The Go tests read these lines and act on the upload from outside
// (cut its connection, kill the server) to see it resume.
// Usage: NODE_PATH=<players>/node_modules node upload.cjs '<json options>'
//   options: endpoint, token, file, chunkSize, metadata, retryDelays, uploadUrl, checksum
const fs = require("fs");
const tus = require("tus-js-client");

const o = JSON.parse(process.argv[2]);
const say = (x) => process.stdout.write(JSON.stringify(x) + "\n");
let videoId = "";
const upload = new tus.Upload(fs.createReadStream(o.file), {
  endpoint: o.endpoint,
  uploadUrl: o.uploadUrl || null,
  chunkSize: o.chunkSize,
  uploadSize: fs.statSync(o.file).size,
  metadata: o.metadata || {},
  headers: { Authorization: "Bearer " + o.token },
  retryDelays: o.retryDelays || [0, 500, 1000, 2000, 3000, 5000, 5000, 10000, 10000, 10000],
  removeFingerprintOnSuccess: true,
  onAfterResponse: (req, res) => {
    const id = res.getHeader("Vod-Video-Id");
    if (id) videoId = id;
  },
  onChunkComplete: (size, sent, total) => say({ event: "chunk", sent, total, url: upload.url }),
  onShouldRetry: (err, attempt) => {
    const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
    say({ event: "retry", status, attempt, message: String(err.message).split("\n")[0] });
    return status === 0 || status >= 500 || status === 409 || status === 423;
  },
  onError: (err) => {
    const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
    say({ event: "error", status, message: String(err.message), body: err.originalResponse ? err.originalResponse.getBody() : "" });
    process.exit(1);
  },
  onSuccess: () => {
    say({ event: "success", url: upload.url, videoId });
    process.exit(0);
  },
});
upload.start();
