// Builds the learner-side bundle of the Jupyter block into ../static/lms_cms_blocks/.
//
//   npm ci && node build.mjs          build (what `make test` and CI do before the tests)
//   node build.mjs --check            build into a temporary folder and fail if the committed bundle differs
//
// The output is deterministic for a given package-lock.json: no timestamps, no source maps, no absolute paths.
import { build } from "esbuild";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "..", "static", "lms_cms_blocks");
const check = process.argv.includes("--check");
const outdir = check ? mkdtempSync(join(tmpdir(), "lms-jupyter-")) : target;

const result = await build({
  absWorkingDir: here,
  entryPoints: { "lms-jupyter": "src/index.js" },
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  legalComments: "none", // every bundled package's license is written to lms-jupyter.licenses.txt instead
  metafile: true,
  sourcemap: false,
  charset: "utf8",
  outdir,
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});

// The license of every package that ended up in the bundle, in a stable order.
const packages = new Set();
for (const output of Object.values(result.metafile.outputs)) {
  for (const input of Object.keys(output.inputs)) {
    const match = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
    if (match) packages.add(match[1]);
  }
}
const notices = [...packages].sort().map((dir) => {
  const meta = JSON.parse(readFileSync(join(here, dir, "package.json"), "utf8"));
  const licenseFile = readdirSync(join(here, dir)).find((name) => /^(licen[cs]e|copying)(\.|$)/i.test(name));
  const text = licenseFile ? readFileSync(join(here, dir, licenseFile), "utf8").trim() : `License: ${meta.license}`;
  return `${meta.name} ${meta.version} (${meta.license})\n${"-".repeat(72)}\n${text}\n`;
});
writeFileSync(
  join(outdir, "lms-jupyter.licenses.txt"),
  `Packages bundled in lms-jupyter.js and their licenses.\n\n${notices.join("\n")}`,
);

if (check) {
  const differing = [];
  for (const name of readdirSync(outdir)) {
    let committed = null;
    try {
      committed = readFileSync(join(target, name));
    } catch {
      // missing in the committed bundle
    }
    if (committed === null || !committed.equals(readFileSync(join(outdir, name)))) differing.push(name);
  }
  for (const name of readdirSync(target)) {
    if (!readdirSync(outdir).includes(name)) differing.push(name + " (not built any more)");
  }
  rmSync(outdir, { recursive: true, force: true });
  if (differing.length) {
    console.error(
      "The committed bundle in src/lms_cms_blocks/static/lms_cms_blocks/ differs from a fresh build: " +
        differing.join(", ") +
        ".\nRun `npm ci && npm run build` in src/lms_cms_blocks/frontend and commit the result.",
    );
    process.exit(1);
  }
  console.log("The committed bundle matches a fresh build.");
}
