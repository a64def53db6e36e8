// Stamps a service worker template with one build's id and file list. Used by the Trunk
// post-build hook, and by the update test to produce a second, different build.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The Rust file that defines the names the app shares with its service worker. */
const SHARED_NAMES = join(dirname(fileURLToPath(import.meta.url)), "../src/data/shared_names.rs");

/**
 * The `pub const NAME: &str = "...";` constants of `src/data/shared_names.rs`, so the worker
 * uses the app's names instead of a copy of them.
 */
export function sharedNames(source = readFileSync(SHARED_NAMES, "utf8")) {
  const names = {};
  for (const [, name, value] of source.matchAll(/^pub const ([A-Z_]+): &str = "([^"\\]*)";$/gm)) {
    names[name] = value;
  }
  if (Object.keys(names).length === 0) throw new Error(`no shared names found in ${SHARED_NAMES}`);
  return names;
}

/**
 * Writes every `__OUTPOST_NAME_<CONST>__` placeholder of `template` (`what` names it in
 * errors); a placeholder without a constant is an error. Returns the text and the names used,
 * so the build can check that every constant is used by one of the scripts.
 */
function withSharedNames(template, what, names = sharedNames()) {
  const used = new Set();
  const text = template.replace(/__OUTPOST_NAME_([A-Z_]+)__/g, (_, name) => {
    if (!(name in names)) throw new Error(`${what} names ${name}, which shared_names.rs lacks`);
    used.add(name);
    return names[name];
  });
  return { text, used };
}

/** Writes the shared names into the script at `path`, in place; returns the names it uses. */
export function stampSharedNames(path) {
  const { text, used } = withSharedNames(readFileSync(path, "utf8"), path);
  writeFileSync(path, text);
  return used;
}

/** Fails when a constant of shared_names.rs is used by none of the stamped scripts. */
export function checkEveryNameUsed(usedSets, names = sharedNames()) {
  const unused = Object.keys(names).filter((name) => !usedSets.some((used) => used.has(name)));
  if (unused.length > 0) throw new Error(`shared_names.rs names unused by every script: ${unused.join(", ")}`);
}

/** A file named by the hash of its bytes (`outpost-<hash>.js`, `..._bg.wasm`, `boot-<hash>.js`). */
const NAMED_BY_HASH = /-[0-9a-f]{16}(_bg)?\.[a-z]+$/;

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
  const placeholders = ["__OUTPOST_BUILD__", "/*__OUTPOST_PRECACHE__*/", "/*__OUTPOST_PRECACHE_SHA256__*/"];
  if (!placeholders.every((p) => template.includes(p))) {
    throw new Error("the service worker template lacks its placeholders");
  }
  const files = walk(dir)
    .map((path) => relative(dir, path).split(sep).join("/"))
    .filter((path) => path !== "sw.js" && !/\.(br|gz)$/.test(path))
    .sort();
  const hashes = files.map((path) => [path, sha256(readFileSync(join(dir, path)))]);
  const build = sha256(hashes.map(([path, hash]) => `${path}\n${hash}`).join("\n")).slice(0, 16);
  const precache = files.map((path) => JSON.stringify(`/${path}`)).join(", ");
  // Only the files named without their hash can be another build's under the same name; 64
  // bits of each hash tell two builds apart (and cost the first load no more bytes than that).
  const precacheSha256 = hashes
    .filter(([path]) => !NAMED_BY_HASH.test(path))
    .map(([path, hash]) => `${JSON.stringify(`/${path}`)}: "${hash.slice(0, 16)}"`)
    .join(", ");
  const { text, used } = withSharedNames(template, "sw.js");
  writeFileSync(
    join(dir, "sw.js"),
    text
      .replace("__OUTPOST_BUILD__", build)
      .replace("/*__OUTPOST_PRECACHE__*/", precache)
      .replace("/*__OUTPOST_PRECACHE_SHA256__*/", precacheSha256),
  );
  return { build, files: files.length, used };
}
