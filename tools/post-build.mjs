// Trunk post-build hook (see Trunk.toml). Runs on the staging directory of one build:
// 1. moves Trunk's inline module script into `boot-<hash>.js`, because the server's
//    Content-Security-Policy forbids inline script;
// 2. stamps `sw.js` with this build's id and the list of every file it produced, so the
//    service worker precaches exactly this build under a cache named by it.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256, stampServiceWorker } from "./stamp-sw.mjs";

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) {
  console.error("post-build: TRUNK_STAGING_DIR is not set; run through trunk");
  process.exit(1);
}

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

const swPath = join(staging, "sw.js");
const { build, files } = stampServiceWorker(staging, readFileSync(swPath, "utf8"));
console.log(`post-build: build ${build}, ${files} files precached, boot ${bootName}`);
