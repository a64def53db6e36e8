// Outpost service worker.
//
// Precaches exactly one build of the app shell, under a cache named by that build, so files
// of two builds are never mixed. The post-build hook (tools/post-build.mjs) fills in the build
// id and the file list. Navigations are answered from the cache (the app opens offline); the
// API is never cached. A new build waits until the page asks it to take over ("Reload").
const BUILD = "__OUTPOST_BUILD__";
const PRECACHE = [/*__OUTPOST_PRECACHE__*/];
const CACHE = `outpost-shell-${BUILD}`;
const SHELL = "/index.html";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      // `reload` skips the HTTP cache, so the precache holds this build's bytes.
      cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload" }))),
    ),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("outpost-shell-") && name !== CACHE) {
          await caches.delete(name);
        }
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") {
    self.skipWaiting();
  } else if (event.data && event.data.type === "BUILD") {
    event.source && event.source.postMessage({ type: "BUILD", build: BUILD });
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/healthz") return;
  if (request.mode === "navigate") {
    event.respondWith(
      caches.open(CACHE).then(async (cache) => (await cache.match(SHELL)) || fetch(request)),
    );
    return;
  }
  event.respondWith(
    caches.open(CACHE).then(async (cache) => (await cache.match(request)) || fetch(request)),
  );
});
