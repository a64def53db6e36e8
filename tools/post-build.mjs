// Trunk post-build hook (see Trunk.toml). Runs in the staging directory of one build:
// 1. moves Trunk's inline module script into `boot-<hash>.js`, because the server's
//    Content-Security-Policy forbids inline script;
// 2. writes this build's id and the list of every file it produced into `sw.js`, so the
//    service worker precaches exactly this build under a cache named by it.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) {
  console.error("post-build: TRUNK_STAGING_DIR is not set; run through trunk");
  process.exit(1);
}
const sha256 = (data) => createHash("sha256").update(data).digest("hex");

const indexPath = join(staging, "index.html");
let html = readFileSync(indexPath, "utf8");
const inline = /<script type="module"(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/;
const match = html.match(inline);
if (!match) {
  console.error("post-build: Trunk's inline boot script was not found in index.html");
  process.exit(1);
}
const boot = match[1].trim() + "\n";
const bootName = `boot-${sha256(boot).slice(0, 16)}.js`;
writeFileSync(join(staging, bootName), boot);
html = html.replace(inline, `<script type="module" src="/${bootName}"></script>`);
writeFileSync(indexPath, html);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
const files = walk(staging)
  .map((path) => relative(staging, path).split(sep).join("/"))
  .filter((path) => path !== "sw.js")
  .sort();
const build = sha256(
  files.map((path) => `${path}\n${sha256(readFileSync(join(staging, path)))}`).join("\n"),
).slice(0, 16);
const precache = files.map((path) => `/${path}`);

const swPath = join(staging, "sw.js");
const sw = readFileSync(swPath, "utf8");
if (!sw.includes("__OUTPOST_BUILD__") || !sw.includes("/*__OUTPOST_PRECACHE__*/")) {
  console.error("post-build: sw.js lacks its placeholders");
  process.exit(1);
}
writeFileSync(
  swPath,
  sw
    .replace("__OUTPOST_BUILD__", build)
    .replace("/*__OUTPOST_PRECACHE__*/", precache.map((p) => JSON.stringify(p)).join(", ")),
);
console.log(`post-build: build ${build}, ${precache.length} files precached, boot ${bootName}`);
