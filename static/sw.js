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
      caches.open(CACHE).then(async (cache) => (await cache.match(SHELL, { ignoreVary: true })) || fetch(request)),
    );
    return;
  }
  event.respondWith(
    caches.open(CACHE).then(async (cache) => (await cache.match(request, { ignoreVary: true })) || fetch(request)),
  );
});

// Background Sync: while a change is pending the app registers the tag below; the browser
// fires it when connectivity returns, even with every tab closed. This routine handles only
// the no-conflict case: a 412 (someone else wrote first) or a 401 leaves the change for the
// app to merge or resend when it next opens. It takes the same cross-tab lock as the app, so
// it never races a tab's sync.
const SYNC_TAG = "outpost-sync";

self.addEventListener("sync", (event) => {
  if (event.tag === SYNC_TAG) event.waitUntil(sendPendingChange());
});

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openExistingDatabase() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("outpost");
    // The app creates the schema; if there is no database there is nothing to send.
    request.onupgradeneeded = () => request.transaction.abort();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function sendPendingChange() {
  let db;
  try {
    db = await openExistingDatabase();
  } catch {
    return;
  }
  try {
    if (!db.objectStoreNames.contains("session")) return;
    const session = await done(db.transaction("session").objectStore("session").get("current"));
    if (!session || !session.token) return;
    const send = () => sendRecord(db, session);
    if (self.navigator.locks) {
      await self.navigator.locks.request(`outpost-sync:${session.account}`, send);
    } else {
      await send();
    }
  } finally {
    db.close();
  }
}

async function sendRecord(db, session) {
  const record = await done(db.transaction("profiles").objectStore("profiles").get(session.account));
  if (!record || record.synchronized || record.conflict || !record.base) return;
  const response = await fetch("/api/profile", {
    method: "PUT",
    headers: {
      Authorization: `Bearer ${session.token}`,
      "Content-Type": "application/json",
      "If-Match": `"${record.base.version}"`,
    },
    body: JSON.stringify({ name: record.local.name, photo_url: record.local.photo_url }),
    // A stalled server must not hold the cross-tab lock (and the tabs' syncs) forever.
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status === 429 || response.status >= 500) {
    throw new Error(`server answered ${response.status}; the browser retries the sync later`);
  }
  if (!response.ok) return;
  const profile = await response.json();
  const tx = db.transaction("profiles", "readwrite");
  const store = tx.objectStore("profiles");
  const current = await done(store.get(session.account));
  const unchanged = current && current.changed_at === record.changed_at
    && current.local.name === record.local.name && current.local.photo_url === record.local.photo_url;
  if (unchanged) {
    store.put({
      ...current,
      base: profile,
      synchronized: true,
      changed_at: undefined,
      last_synced_at: Date.now(),
      conflict: undefined,
    }, session.account);
  } else if (current && current.base && current.base.version === record.base.version && !current.conflict) {
    // Edited while the request was out: the newer edit stays pending, but on top of the
    // version just written, so the app's next PUT is not mistaken for a conflict.
    store.put({ ...current, base: profile }, session.account);
  }
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
  const channel = new BroadcastChannel("outpost");
  channel.postMessage(`profile:${session.account}`);
  channel.close();
}
