// `bun run build`: compiles src/main.ts into dist/stroem-logs, a single self-contained executable.
import pkg from "../package.json" with { type: "json" };

const outfile = process.argv[2] ?? "dist/stroem-logs";
const commit = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { stderr: "ignore" })
  .stdout.toString()
  .trim();
const version = commit ? `${pkg.version}+${commit}` : pkg.version;

const started = performance.now();
const result = await Bun.build({
  // Workers' modules are bundled only when they are entrypoints of their own (a Worker loads them by path
  // under the bundle's root): the archive's compression threads (src/archive/member.ts finds
  // archive/member-worker), the regex search worker (src/logs/regex-pool.ts finds logs/regex-worker) and the
  // push decode workers (src/ingest/decode-pool.ts finds ingest/decode-worker).
  // The log viewer's page comes in through its HTML import.
  entrypoints: [
    "src/main.ts",
    "src/archive/member-worker.ts",
    "src/logs/regex-worker.ts",
    "src/ingest/decode-worker.ts",
  ],
  compile: {
    outfile,
    // The binary must behave the same wherever it is dropped: no .env or bunfig.toml from its cwd.
    autoloadDotenv: false,
    autoloadBunfig: false,
  },
  minify: true,
  bytecode: true,
  format: "esm",
  // Chunks for dynamic imports: the S3 SDK, loaded on first use, keeps its top-level imports of node:http,
  // node:crypto and node:child_process out of start-up too (~77 → ~69 ms to the first 200 on /healthz).
  splitting: true,
  sourcemap: "linked",
  define: { STROEM_LOGS_BUILD: JSON.stringify(version) },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile} (stroem-logs ${version}) in ${Math.round(performance.now() - started)} ms`);
