// Stamps a service worker template with one build's id and file list. Used by the Trunk
// post-build hook, and by the update test to produce a second, different build.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** SHA-256 of `data` in hex. */
export const sha256 = (data) => createHash("sha256").update(data).digest("hex");

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/**
 * Writes `dir/sw.js` from `template`: the build id is a hash of every other file's path and
 * content, and the precache list names every other file (not the precompressed `.br`/`.gz`
 * siblings, which the server picks by `Accept-Encoding`). Returns the build id.
 */
export function stampServiceWorker(dir, template) {
  if (!template.includes("__OUTPOST_BUILD__") || !template.includes("/*__OUTPOST_PRECACHE__*/")) {
    throw new Error("the service worker template lacks its placeholders");
  }
  const files = walk(dir)
    .map((path) => relative(dir, path).split(sep).join("/"))
    .filter((path) => path !== "sw.js" && !/\.(br|gz)$/.test(path))
    .sort();
  const build = sha256(files.map((path) => `${path}\n${sha256(readFileSync(join(dir, path)))}`).join("\n"))
    .slice(0, 16);
  const precache = files.map((path) => JSON.stringify(`/${path}`)).join(", ");
  writeFileSync(
    join(dir, "sw.js"),
    template.replace("__OUTPOST_BUILD__", build).replace("/*__OUTPOST_PRECACHE__*/", precache),
  );
  return { build, files: files.length };
}
