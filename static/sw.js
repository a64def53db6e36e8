// Outpost service worker.
//
// Precaches exactly one build of the app shell, under a cache named by that build, so files
// of two builds are never mixed. The post-build hook (tools/post-build.mjs) fills in the build
// id and the file list. Navigations are answered from the cache (the app opens offline); the
// API is never cached. A new build waits until the page asks it to take over ("Reload").
const BUILD = "__OUTPOST_BUILD__";
const PRECACHE = [/*__OUTPOST_PRECACHE__*/];
// The first 16 hex digits of the SHA-256 of each of this build's files named without their
// hash, as the build wrote them: a file fetched with other bytes is another build's (a deploy landed between this worker and its files, or two
// instances behind a balancer serve two builds), and caching it would start the app offline
// with a page whose scripts this cache lacks.
const PRECACHE_SHA256 = {/*__OUTPOST_PRECACHE_SHA256__*/};
const CACHE = `outpost-shell-${BUILD}`;
const SHELL = "/index.html";
// The names shared with the app, written in from src/data/shared_names.rs by the build's
// post-build hook (tools/stamp-sw.mjs), so the two can never disagree.
const NAMES = {
  db: "__OUTPOST_NAME_DB_NAME__",
  profiles: "__OUTPOST_NAME_PROFILES_STORE__",
  photos: "__OUTPOST_NAME_PHOTOS_STORE__",
  photoKeySeparator: "__OUTPOST_NAME_PHOTO_KEY_SEPARATOR__",
  session: "__OUTPOST_NAME_SESSION_STORE__",
  current: "__OUTPOST_NAME_CURRENT_KEY__",
  lockPrefix: "__OUTPOST_NAME_SYNC_LOCK_PREFIX__",
  syncTag: "__OUTPOST_NAME_SYNC_TAG__",
  channel: "__OUTPOST_NAME_CHANNEL__",
};

self.addEventListener("install", (event) => {
  event.waitUntil(precache());
});

// Fetches and keeps every file of this build, or none: a file that fails or is another
// build's fails the install (the browser tries the update again later; the build before
// stays in charge meanwhile).
async function precache() {
  // A build that changed only sw.js has the running worker's cache name (the name hashes the
  // other files): a failed install must not delete that cache. (What an install puts into it
  // is the same bytes: the name says so.)
  const existed = await caches.has(CACHE);
  const cache = await caches.open(CACHE);
  try {
    await Promise.all(
      PRECACHE.map(async (url) => {
        // A file named without its hash skips the HTTP cache (`reload`), so the precache holds
        // this build's bytes. One named by its hash is the same bytes wherever they come from:
        // the HTTP cache's copy, which the page has just loaded, spares a first visit a second
        // download of the wasm.
        const cacheMode = url in PRECACHE_SHA256 ? "reload" : "default";
        const response = await fetch(new Request(url, { cache: cacheMode }));
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
        const expected = PRECACHE_SHA256[url];
        if (expected && !(await sha256Hex(await response.clone().arrayBuffer())).startsWith(expected)) {
          throw new Error(`${url} is another build's`);
        }
        await cache.put(url, response);
      }),
    );
    // An older worker's activation may have deleted this cache meanwhile (before the check
    // in dropOtherBuilds could see this install): the files above went nowhere, so this
    // install fails and the browser tries it again.
    if (!(await caches.has(CACHE))) throw new Error(`${CACHE} was deleted while it was filled`);
  } catch (error) {
    if (!existed) await caches.delete(CACHE);
    throw error;
  }
}

async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      await dropOtherBuilds();
      await self.clients.claim();
    })(),
  );
});

// Deletes the caches of the other builds, unless another build is installing or waiting: its
// cache is among them (this worker cannot know its name), and once deleted that build would
// install into a cache nobody can open, then run with no files to start offline. (Seen: build
// C deployed while the person's Reload made build B take over.) The other builds' caches go
// at the next activation. The list is read first: an install that starts after it is not in
// it, one that started before is seen by the check.
async function dropOtherBuilds() {
  const names = await caches.keys();
  if (self.registration.installing || self.registration.waiting) return;
  for (const name of names) {
    if (name.startsWith("outpost-shell-") && name !== CACHE) await caches.delete(name);
  }
}

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
// fires it when connectivity returns, even with every tab closed. This routine decides
// nothing: the sync core (outpost_core::sync) has already decided the write and stored it in
// the record, either as the write in doubt (`sent`) or as the next write (`prepared`, kept by
// the core while it cannot send). Under the app's cross-tab lock it sends `sent` as it is, or
// first moves `prepared` to `sent` in one readwrite transaction, so the write is in doubt
// before it leaves. When the core marked the photo the prepared write names
// (`prepared_photo`), that photo is uploaded first, from the device store, and the write moves
// to `sent` only once the server said it holds it (201 or 200), still the same write. The PUT
// carries its mutation id as Idempotency-Key, so a repeat is answered with its first outcome
// and never applied twice. The server's own answer about
// that write (a 200, or a 412 naming its mutation) is stored beside it as `answer`, not
// applied: the core applies it when a tab next reads the record. Anything else is left for
// the app, which sends the write again with the same key.
self.addEventListener("sync", (event) => {
  if (event.tag === NAMES.syncTag) event.waitUntil(sendPendingChange());
});

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openExistingDatabase() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(NAMES.db);
    // The app creates the schema; if there is no database there is nothing to send.
    request.onupgradeneeded = () => request.transaction.abort();
    request.onsuccess = () => {
      const db = request.result;
      // A tab of a newer build upgrades the schema: this connection goes at once rather than
      // block it (it may be waiting for the lock, held by a tab whose next commit waits for
      // that upgrade). What was not sent stays in the store for the next sync.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = () => reject(request.error);
  });
}

// The session stored on the device (the signed-in account and its token), if any.
function currentSession(db) {
  return done(db.transaction(NAMES.session).objectStore(NAMES.session).get(NAMES.current));
}

async function sendPendingChange() {
  let db;
  try {
    db = await openExistingDatabase();
  } catch (error) {
    // No database (this worker aborted creating one): nothing to send. Any other failure (the
    // store failing for a moment) fails this sync, so that the browser tries it again later
    // rather than drop it until a tab opens.
    if (error?.name === "AbortError") return;
    throw error;
  }
  try {
    if (!db.objectStoreNames.contains(NAMES.session)) return;
    const session = await currentSession(db);
    if (!session || !session.token) return;
    // The session is read again once the lock is held: another account may have signed in
    // while this waited, and this account's writes then wait until it signs in again.
    const send = async () => {
      const now = await currentSession(db);
      if (now && now.token === session.token) await sendRecord(db, session);
    };
    if (self.navigator.locks) {
      await self.navigator.locks.request(`${NAMES.lockPrefix}${session.account}`, send);
    } else {
      await send();
    }
  } finally {
    db.close();
  }
}

// The sync core's rule for a record's revision (LocalRecord::next_revision): the successor of
// the stored one, or a random start below 2^52 for a record from before revisions. A tab
// commits only while the store holds the revision it read, so every write here bumps it.
function nextRevision(record) {
  if (record && record.revision > 0) return record.revision + 1;
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  return Math.max(1, (high >>> 12) * 2 ** 32 + low);
}
// Runs `change(current)` on the stored record in one readwrite transaction; `change` returns
// the record to put, or undefined to leave it. Resolves with what was put (or undefined).
function updateRecord(db, account, change) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(NAMES.profiles, "readwrite", { durability: "strict" });
    const store = tx.objectStore(NAMES.profiles);
    let written;
    const read = store.get(account);
    read.onsuccess = () => {
      written = change(read.result);
      if (written !== undefined) store.put(written, account);
    };
    tx.oncomplete = () => resolve(written);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

const STALLED = 10_000;
// A photo's upload may take the server's own limit for a request (30 s): the app's
// PHOTO_TIMEOUT_MS, for a phone's weak link.
const PHOTO_STALLED = 30_000;

// A 429 or 5xx: the browser tries the whole sync again later.
function retryLater(response) {
  if (response.status === 429 || response.status >= 500) {
    throw new Error(`server answered ${response.status}; the browser retries the sync later`);
  }
}

// Moves the prepared write to `sent` when it is still the one `expected` names (its mutation
// and the photo just uploaded, noted as on the server). Resolves with the write, or undefined.
async function takePrepared(db, account, expected) {
  let write;
  await updateRecord(db, account, (record) => {
    if (!record || record.sent || !record.prepared) return undefined;
    const photos = record.photos_on_server || [];
    if (expected) {
      if (record.prepared.mutation !== expected.mutation || record.prepared_photo !== expected.sha256) {
        return undefined;
      }
    } else if (record.prepared_photo) {
      return undefined;
    }
    write = record.prepared;
    const held = expected && !photos.includes(expected.sha256) ? [...photos, expected.sha256] : photos;
    return {
      ...record,
      sent: write,
      prepared: undefined,
      prepared_photo: undefined,
      photos_on_server: held,
      revision: nextRevision(record),
    };
  });
  return write;
}

// Uploads the photo `upload` names from the device store. Resolves true once the server holds
// it; false when there is nothing to send (the bytes are not here: a tab says so in words) or
// the server refused it (the app meets the same answer and says it).
async function uploadPhoto(db, session, upload) {
  const key = `${session.account}${NAMES.photoKeySeparator}${upload.sha256}`;
  const bytes = await done(db.transaction(NAMES.photos).objectStore(NAMES.photos).get(key));
  if (!bytes) return false;
  const response = await fetch(`/api/photos/${upload.sha256}`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${session.token}`, "Content-Type": "image/jpeg" },
    body: bytes,
    signal: AbortSignal.timeout(PHOTO_STALLED),
  });
  retryLater(response);
  return response.status === 201 || response.status === 200;
}

async function sendRecord(db, session) {
  const account = session.account;
  // The write the core decided: the one in doubt, or the prepared one, in doubt from now on.
  let write;
  let upload;
  await updateRecord(db, account, (record) => {
    if (!record) return undefined;
    if (record.sent) {
      // Already answered (an earlier sync stored the answer for the core): nothing to send.
      if (!record.answer || record.answer.mutation_id !== record.sent.mutation) write = record.sent;
    } else if (record.prepared && record.prepared_photo) {
      upload = { sha256: record.prepared_photo, mutation: record.prepared.mutation };
    }
    return undefined;
  });
  if (upload) {
    if (!(await uploadPhoto(db, session, upload))) return;
    write = await takePrepared(db, account, upload);
    if (write) tellTabs(account);
  } else if (!write) {
    write = await takePrepared(db, account, undefined);
    if (write) tellTabs(account);
  }
  if (!write) return;
  const response = await fetch("/api/profile", {
    method: "PUT",
    headers: {
      Authorization: `Bearer ${session.token}`,
      "Content-Type": "application/json",
      "If-Match": `"${write.if_match}"`,
      "Idempotency-Key": write.mutation,
    },
    body: JSON.stringify({ name: write.fields.name, photo_url: write.fields.photo_url }),
    // A stalled server must not hold the cross-tab lock (and the tabs' syncs) forever.
    signal: AbortSignal.timeout(STALLED),
  });
  retryLater(response);
  // Only the server's own JSON word on this very write is kept; an unreadable body leaves the
  // write in doubt.
  const body = await response.json().catch(() => undefined);
  const answer = response.ok ? body : response.status === 412 ? body && body.current : undefined;
  if (!isProfile(answer) || answer.mutation_id !== write.mutation) return;
  await updateRecord(db, account, (current) =>
    current && current.sent && current.sent.mutation === write.mutation
      ? { ...current, answer, revision: nextRevision(current) }
      : undefined,
  );
  tellTabs(account);
}

// Whether `value` is a profile as the server sends it (the core's ServerProfile): anything
// else, stored as the answer, would make the record unreadable to the app.
function isProfile(value) {
  return (
    typeof value === "object" && value !== null &&
    typeof value.name === "string" && typeof value.photo_url === "string" &&
    Number.isSafeInteger(value.version) && value.version >= 0 &&
    typeof value.updated_at === "string" && typeof value.mutation_id === "string"
  );
}

// The record of `account` changed in the store: open tabs read it again (as a tab's commit
// tells the others).
function tellTabs(account) {
  const channel = new BroadcastChannel(NAMES.channel);
  channel.postMessage(`profile:${account}`);
  channel.close();
}
