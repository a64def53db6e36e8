// The installable PWA and the truthful UI (issue: Leptos UI and installable PWA): installability,
// offline start, clean updates, background sync with every tab closed, conflicts, accessibility,
// and screenshots of each view at phone and desktop widths. The tests Chromium alone can run say
// why (chromiumOnly); the others run on every engine (OUTPOST_E2E_ENGINE).
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { dispatchSync, syncWithNoTabOpen } from "./lib/background-sync.mjs";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { axeViolations } from "./lib/axe.mjs";
import { startProxy } from "./lib/proxy.mjs";
import { ROOT, closeContextThen, launchPersistent, waitFor } from "./lib/harness.mjs";
import { ENGINE, chromiumOnly, startEngineServer, useEngine } from "./lib/browser/index.mjs";
import {
  newUsername, signUp, saveName, waitForStatus, waitForServiceWorker, apiToken, apiProfile, apiPut, newSignedUpPage, readAppStore,
} from "./lib/app.mjs";
import { stampServiceWorker } from "../../tools/stamp-sw.mjs";

const SHOTS = join(ROOT, "tests/e2e/artifacts");
const env = useEngine({ before, after, afterEach });
before(() => mkdirSync(SHOTS, { recursive: true }));

/** Saves a screenshot of `page` at phone and desktop widths (Chromium's: the others have none). */
async function screenshots(page, name) {
  if (ENGINE !== "chromium") return;
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
  }
}

async function axe(page, what) {
  assert.deepEqual(await axeViolations(page), [], `axe violations on ${what} (${ENGINE})`);
}

function pngSize(bytes) {
  assert.equal(bytes.subarray(1, 4).toString(), "PNG");
  return `${bytes.readUInt32BE(16)}x${bytes.readUInt32BE(20)}`;
}

chromiumOnly("Chromium finds the app installable, and the manifest and icons load",
  "installability through CDP, in a persistent context", async () => {
  const { context, close } = await launchPersistent();
  try {
    const page = await context.newPage();
    await page.goto(env.server.url);
    await waitForServiceWorker(page);
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
    assert.deepEqual(installabilityErrors, []);

    const manifest = await (await fetch(`${env.server.url}/manifest.webmanifest`)).json();
    assert.equal(manifest.display, "standalone");
    assert.equal(manifest.start_url, "/");
    const purposes = new Set();
    for (const icon of manifest.icons) {
      const response = await fetch(new URL(icon.src, env.server.url));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "image/png");
      assert.equal(pngSize(Buffer.from(await response.arrayBuffer())), icon.sizes);
      purposes.add(icon.purpose);
    }
    assert.ok(purposes.has("maskable"));
    assert.deepEqual([...new Set(manifest.icons.map((i) => i.sizes))].sort(), ["192x192", "512x512"]);
  } finally {
    await close();
  }
});

test("sign-in works with the keyboard alone and every view passes axe", async () => {
  const page = await env.browser.newPage();
  await page.goto(env.url);
  await page.getByRole("textbox", { name: "Username" }).waitFor();
  await axe(page, "the sign-in view");
  await screenshots(page, "sign-in");

  // Keyboard only: Tab to each field, Enter submits "Sign in" (the account does not exist).
  const username = newUsername("keys");
  await page.keyboard.press("Tab");
  await waitFor(async () => page.evaluate(() => document.activeElement?.id === "username"), "focus on Username");
  await page.keyboard.type("ab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.type("short");
  await page.keyboard.press("Enter");
  await page.getByText("Username must be 3 to 32 characters long.").waitFor();
  // The field in error says so to assistive technology, and only that one.
  assert.equal(await page.getByRole("textbox", { name: "Username" }).getAttribute("aria-invalid"), "true");
  assert.equal(await page.getByLabel("Password").getAttribute("aria-invalid"), "false");
  await axe(page, "the sign-in view with an error");
  await page.getByRole("textbox", { name: "Username" }).fill(username);
  await page.getByRole("textbox", { name: "Password" }).fill("correct horse battery");
  await page.keyboard.press("Enter");
  await page.getByRole("alert").filter({ hasText: "wrong" }).waitFor();

  await signUp(page, username);
  await waitForStatus(page, "synced");
  // The sign-in page went with the focus: the profile's heading has it now.
  const focused = () => page.evaluate(() => document.activeElement?.id ?? "");
  await waitFor(async () => (await focused()) === "profile-title", "the focus on the profile's heading");
  await axe(page, "the profile view");
  await screenshots(page, "profile");

  await page.getByRole("textbox", { name: "Name", exact: true }).fill("   ");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Name must not be empty.").waitFor();
  await page.getByRole("textbox", { name: "Photo URL" }).fill("ftp://example.com/me.png");
  await page.getByRole("textbox", { name: "Name", exact: true }).fill("Valid Name");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Photo URL must start with http:// or https://.").waitFor();
  await axe(page, "the profile view with a field error");
  await page.close();
});

test("a first visit downloads each file named by its hash once, and the precache holds them", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const from = env.proxy.requests.length;
  await page.goto(env.url);
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await waitForServiceWorker(page);
  const hashed = /-[0-9a-f]{16}(_bg)?\.(js|wasm)$/;
  const seen = env.proxy.requests.slice(from).filter((r) => hashed.test(r.path));
  const names = [...new Set(seen.map((r) => r.path))];
  assert.ok(names.some((path) => path.endsWith("_bg.wasm")), `the wasm among ${names}`);
  // The worker's precache asks the HTTP cache for them (a `reload` sends no-cache).
  const bypassed = seen.filter((r) => /no-cache/.test(r.headers["cache-control"] ?? "")).map((r) => r.path);
  assert.deepEqual(bypassed, [], "no file named by its hash fetched past the HTTP cache");
  // WebKitGTK driven over WebDriver keeps no HTTP cache at all (measured: two fetches of one
  // immutable file both reach the server), so only the engines with one can answer it.
  if (env.browser.engine !== "webkit") {
    for (const path of names) {
      const times = seen.filter((r) => r.path === path).length;
      assert.equal(times, 1, `${path} downloaded once, not ${times} times`);
    }
  }
  const cached = await page.evaluate(async (names) => {
    const held = await Promise.all(names.map((name) => caches.match(name)));
    return held.every(Boolean);
  }, names);
  assert.ok(cached, "the precache holds every one");
  await context.close();
});

test("with the server unreachable after the first load, the app opens signed in from IndexedDB and says so", async () => {
  const page = await env.browser.newPage();
  const username = newUsername("away");
  await page.goto(env.url);
  await signUp(page, username);
  await saveName(page, "Stored here");
  await page.getByText("Saved on this device.", { exact: true }).waitFor();
  const token = await apiToken(env.server.url, username);
  await waitFor(async () => (await apiProfile(env.server.url, token)).name === "Stored here", "the save to sync");
  await waitForStatus(page, "synced");
  await waitForServiceWorker(page);

  env.proxy.cut();
  await page.reload();
  const name = page.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await name.inputValue()) === "Stored here", "the stored profile with the server unreachable");
  // The browser says it is online; the status says the server could not be reached, and that
  // the values shown are this device's copy. Read at once with the state: between two retries
  // it says "Syncing…" (a clean-clone run read the words just after a retry began, in WebKit).
  const status = page.getByRole("status");
  await waitFor(async () => {
    const words = await status.textContent();
    return /could not be reached/.test(words) && /copy on this device/.test(words)
      && (await status.getAttribute("data-sync")) === "error"
      && (await status.getAttribute("data-connectivity")) === "online";
  }, "the status to say the server could not be reached, and show this device's copy");
  await saveName(page, "Still unreachable");
  await page.getByText("Saved on this device.", { exact: true }).waitFor();
  await waitForStatus(page, "error", "online");
  await env.proxy.restore();
  await waitFor(async () => (await apiProfile(env.server.url, token)).name === "Still unreachable",
    "the change to reach the server once it is reachable");
  await waitForStatus(page, "synced", "online");
  await page.close();
});

chromiumOnly("offline after the first load: the app opens signed in from IndexedDB and says so",
  "navigator.onLine false (Playwright's context.setOffline), screenshots", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  // This wait failed in some clean-clone runs only: keep what the page and server said.
  const consoleLines = [];
  page.on("console", (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  const username = newUsername("cold");
  await page.goto(env.server.url);
  await signUp(page, username);
  await saveName(page, "Stored here");
  await page.getByText("Saved on this device.", { exact: true }).waitFor();
  const token = await apiToken(env.server.url, username);
  await waitFor(async () => (await apiProfile(env.server.url, token)).name === "Stored here", "the save to sync")
    .catch(async (error) => {
      const status = await page.getByRole("status").textContent().catch(() => "?");
      error.message += `\nstatus bar: ${status}\npage console:\n${consoleLines.join("\n")}` +
        `\nserver log (end):\n${env.server.log().slice(-4000)}`;
      throw error;
    });
  await waitForStatus(page, "synced");
  await waitForServiceWorker(page);

  await context.setOffline(true);
  await page.reload();
  const name = page.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await name.inputValue()) === "Stored here", "the stored profile offline");
  const words = await waitForStatus(page, "synced", "offline");
  assert.match(words, /Offline/);
  assert.match(words, /copy on this device/);
  await saveName(page, "Still offline");
  assert.match(await waitForStatus(page, "pending", "offline"), /Saved on this device/);
  await screenshots(page, "offline-pending");
  await context.setOffline(false);
  await waitForStatus(page, "synced", "online");
  await context.close();
});

chromiumOnly("a change pending when every tab closed is sent by the service worker's background sync",
  "Background Sync, fired through CDP", async () => {
  const context = await env.browser.newContext();
  const { page, username } = await newSignedUpPage(context, env.server.url, "bg");
  await context.setOffline(true);
  await saveName(page, "Sent with no tab open");
  await waitForStatus(page, "pending", "offline");
  await page.close();
  const token = await apiToken(env.server.url, username);
  assert.equal((await apiProfile(env.server.url, token)).name, username, "nothing sent while offline");
  const blank = await syncWithNoTabOpen(context, env.server.url);
  await waitFor(async () => (await apiProfile(env.server.url, token)).name === "Sent with no tab open",
    "the service worker to send the change");

  // The next start shows it synced, without sending it again.
  let puts = 0;
  context.on("request", (r) => r.method() === "PUT" && (puts += 1));
  await blank.goto(env.server.url);
  await waitForStatus(blank, "synced");
  assert.equal(await blank.getByRole("textbox", { name: "Name", exact: true }).inputValue(), "Sent with no tab open");
  assert.equal(puts, 0);
  await context.close();
});

chromiumOnly("an answer to the service worker's write that is not a profile is not stored; the write goes again",
  "Background Sync, fired through CDP", async () => {
  const context = await env.browser.newContext();
  const { page, username } = await newSignedUpPage(context, env.url, "shape");
  await context.setOffline(true);
  await saveName(page, "Sent, answer garbled");
  await waitForStatus(page, "pending", "offline");
  await page.close();
  // Applied on the server; the answer the worker gets names the write but is not a profile
  // (a proxy's, or a server's bug). Stored as the write's answer, it would leave a record the
  // app cannot read, and the worker would never send the write again.
  const keys = [];
  env.proxy.route("/api/profile", async (route) => {
    if (route.request.method !== "PUT") return route.continue();
    const key = route.request.headers["idempotency-key"];
    keys.push(key);
    if (keys.length > 1) return route.continue();
    await route.fetch();
    route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ mutation_id: key }) });
  });
  const token = await apiToken(env.server.url, username);
  const blank = await syncWithNoTabOpen(context, env.url);
  await waitFor(async () => (await apiProfile(env.server.url, token)).name === "Sent, answer garbled",
    "the service worker to send the change");

  // The next start finds the write still in doubt and sends it again, same key: the server
  // answers its outcome.
  await blank.goto(env.url);
  await waitForStatus(blank, "synced");
  assert.equal(await blank.getByRole("textbox", { name: "Name", exact: true }).inputValue(), "Sent, answer garbled");
  assert.equal(keys.length, 2, "sent by the worker, then once by the tab");
  assert.equal(keys[1], keys[0], "with the same Idempotency-Key");
  await context.close();
});

/**
 * A page of the app's origin that does not run the app, to hold its locks. The worker answers
 * every other navigation with the app's shell (a page at /manifest.webmanifest ran a second app
 * tab, whose own lock requests the tests did not count on), and leaves /healthz to the network:
 * so it opens while online.
 */
async function lockHolder(context) {
  const holder = await context.newPage();
  await holder.goto(`${env.server.url}/healthz`);
  // The server's own answer, not the app's shell (whose inline script is there at once).
  assert.equal(await holder.evaluate(() => document.scripts.length), 0, "the holder runs no app");
  return holder;
}

/** The client id `page` asks for locks under, as `navigator.locks.query()` names it. */
function lockClient(page) {
  return page.evaluate(() => {
    const name = `outpost-test-whoami:${crypto.randomUUID()}`;
    return navigator.locks.request(name, async () =>
      (await navigator.locks.query()).held.find((l) => l.name === name).clientId);
  });
}

chromiumOnly("a change the service worker sent while the tab waited for the lock leaves once",
  "Background Sync, fired through CDP", async () => {
  // The order that sent it twice (seen in the P4 bench): back online, the tab moves its
  // pending write to "in doubt" and waits for the cross-tab lock, which the service worker's
  // sync got first; the worker sends that write and stores the server's answer; the tab,
  // granted the lock, sent the same write again. The test makes that order: a second page
  // holds the lock until both wait, and the tab's lock request waits for a gate until the
  // worker's is queued.
  const context = await env.browser.newContext();
  await context.addInitScript(() => {
    if (!navigator.locks) return; // about:blank has none
    window.__lockRequests = 0;
    window.__gate = null;
    const request = navigator.locks.request.bind(navigator.locks);
    navigator.locks.request = async (...args) => {
      window.__lockRequests += 1;
      if (window.__gate) await window.__gate;
      return request(...args);
    };
  });
  const { page, username } = await newSignedUpPage(context, env.server.url, "once");
  const lock = `outpost-sync:${username}`;
  const holder = await lockHolder(context);
  const puts = [];
  context.on("request", (r) => {
    if (r.method() === "PUT" && new URL(r.url()).pathname === "/api/profile") puts.push(r.headers()["idempotency-key"]);
  });
  await context.setOffline(true);
  await saveName(page, "Sent once");
  await waitForStatus(page, "pending", "offline");

  await holder.evaluate((name) => {
    window.__held = new Promise((release) => { window.__release = release; });
    navigator.locks.request(name, () => window.__held);
  }, lock);
  // Who waits for the lock, in the order granted. Chromium may fire the sync itself once
  // online as well as through CDP: the worker can ask more than once, so the tab's request
  // is told apart by its client, not by a count.
  const queue = () => holder.evaluate(async (name) =>
    (await navigator.locks.query()).pending.filter((l) => l.name === name).map((l) => l.clientId), lock);
  await waitFor(() => holder.evaluate(async (name) =>
    (await navigator.locks.query()).held.some((l) => l.name === name), lock), "the holder's lock");
  const tab = await lockClient(page);
  const asked = await page.evaluate(() => {
    window.__gate = new Promise((open) => { window.__open = open; });
    return window.__lockRequests;
  });
  await context.setOffline(false);
  await dispatchSync(context, holder, env.server.url);
  await waitFor(async () => (await queue()).length >= 1, "the service worker waiting for the lock");
  await waitFor(() => page.evaluate((n) => window.__lockRequests > n, asked), "the tab asking for the lock");
  await page.evaluate(() => window.__open());
  const waiting = await waitFor(async () => {
    const now = await queue();
    return now.includes(tab) && now;
  }, "the tab waiting behind the service worker");
  assert.ok(waiting.indexOf(tab) > 0, `the service worker's request ahead of the tab's: ${JSON.stringify(waiting)}`);
  await holder.evaluate(() => window.__release());

  await waitForStatus(page, "synced", "online");
  const token = await apiToken(env.server.url, username);
  assert.equal((await apiProfile(env.server.url, token)).name, "Sent once");
  assert.equal(puts.length, 1, `one PUT of the change, not ${JSON.stringify(puts)}`);
  await context.close();
});

chromiumOnly("the service worker waiting for the lock does not hold up a newer build's schema upgrade",
  "Background Sync fired through CDP", async () => {
  const context = await env.browser.newContext();
  const { page, username } = await newSignedUpPage(context, env.server.url, "upgrade");
  const lock = `outpost-sync:${username}`;
  const holder = await lockHolder(context);
  await context.setOffline(true);
  await saveName(page, "Waiting to be sent");
  await waitForStatus(page, "pending", "offline");
  await page.close();
  // Another page of the origin holds the account's lock, as a tab does while its PUT is out.
  await holder.evaluate((name) => {
    navigator.locks.request(name, () => new Promise(() => {}));
  }, lock);
  await waitFor(() => holder.evaluate(async (name) =>
    (await navigator.locks.query()).held.some((l) => l.name === name), lock), "the holder's lock");
  // The worker's sync opens the database, then waits for the lock (no tab of the app is open
  // to ask for it too).
  await context.setOffline(false);
  await dispatchSync(context, holder, env.server.url);
  await waitFor(() => holder.evaluate(async (name) =>
    (await navigator.locks.query()).pending.some((l) => l.name === name), lock), "the service worker waiting");
  // A tab of a newer build opens the database at a higher version.
  const upgrade = await holder.evaluate(() => new Promise((resolve) => {
    const request = indexedDB.open("outpost", 1000);
    request.onblocked = () => resolve("blocked by another connection");
    request.onsuccess = () => {
      request.result.close();
      resolve("upgraded");
    };
    request.onerror = () => resolve(String(request.error));
  }));
  assert.equal(upgrade, "upgraded");
  await context.close();
});

test("a service worker served another build's page does not install; the next try does", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  // A deploy lands between the worker and its files: its request for the page gets another
  // build's (the navigation itself, to "/", is this build's).
  let mixed = true;
  env.proxy.route("/index.html", async (route) => {
    if (!mixed) return route.continue();
    const answer = await route.fetch();
    route.fulfill({ status: 200, contentType: "text/html", body: `${answer.body}<!-- another build -->` });
  });
  await page.goto(env.url);
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  await waitFor(() => env.proxy.requests.some((r) => r.path === "/index.html"), "the worker's request for the page");
  const worker = () => page.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration();
    return {
      installing: registration?.installing?.state ?? null,
      waiting: registration?.waiting?.state ?? null,
      active: registration?.active?.state ?? null,
      caches: (await caches.keys()).filter((name) => name.startsWith("outpost-shell-")),
    };
  });
  const failed = await waitFor(async () => {
    const now = await worker();
    return !now.installing && !now.waiting && !now.active && now;
  }, "the install to fail");
  assert.deepEqual(failed.caches, [], "nothing of the mixed build kept");
  mixed = false;
  // The next try. WebKit keeps a registration whose first install failed, and the app's own
  // update check at start installs it again; a reload during that install left the new
  // worker "activating" for the 15 s waited in WebKit (its activate handler had finished:
  // logged, in 4 of about 60 runs of this file), so the test does not reload then but asks
  // for that update itself. Chromium and Firefox drop such a registration: the reload
  // registers anew.
  const kept = await page.evaluate(async () => Boolean(await navigator.serviceWorker.getRegistration()));
  if (kept) {
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update().catch(() => {}));
  } else {
    await page.reload();
  }
  await waitForServiceWorker(page);
  // The page is controlled from inside `activate` (clients.claim): WebKit says "activating"
  // then, and "activated" a moment later.
  let last;
  const installed = await waitFor(async () => {
    last = await worker();
    return last.active === "activated" && last;
  }, "the next install active").catch((error) => {
    throw new Error(`${error.message}; the registration last: ${JSON.stringify(last)}`);
  });
  assert.equal(installed.caches.length, 1);
  await context.close();
});

/**
 * Reloads `page` with its WebAssembly held back until `release()`: the first paint (`first`)
 * is all there is meanwhile.
 */
async function reloadWithWasmHeld(page) {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route(/_bg\.wasm$/, async (route) => {
    await held;
    await route.continue();
  });
  await page.reload({ waitUntil: "commit" });
  return { first: page.locator("#first-paint"), release };
}

chromiumOnly("a warm start shows the last known profile before the app starts, with nothing to type into",
  "holds the app's WebAssembly (routes with service workers blocked)", async () => {
  const context = await env.browser.newContext({ serviceWorkers: "block" });
  const { page, username } = await newSignedUpPage(context, env.url, "first", { serviceWorker: false });
  await saveName(page, "Shown at once");
  // The status said "synced" before the save too: wait for the save itself, or the reload can
  // come before it was committed (seen: the first paint then showed the name before it).
  await page.getByText("Saved on this device.", { exact: true }).waitFor();
  await waitForStatus(page, "synced");
  const { first, release } = await reloadWithWasmHeld(page);
  await first.getByRole("heading", { name: "Shown at once", exact: true }).waitFor();
  assert.match(await first.textContent(), new RegExp(`Signed in as ${username}`));
  assert.equal(await first.locator("input, textarea, select, button, [contenteditable]").count(), 0,
    "nothing to type into or press");
  assert.equal(await page.locator("#outpost").isVisible(), false, "the starting app stays hidden");
  // Keys pressed now go nowhere: there is no field to take them.
  await page.keyboard.type("typed too early");
  release();
  const name = page.getByRole("textbox", { name: "Name", exact: true });
  await name.waitFor();
  await waitFor(async () => (await name.inputValue()) === "Shown at once", "the app's form filled");
  assert.equal(await first.count(), 0, "the first paint gone once the app shows its page");
  assert.equal(await page.locator("#profile-title").count(), 1);
  await context.close();
});

chromiumOnly("a photo link the first paint cannot load shows the initial, not a broken picture",
  "holds the app's WebAssembly (routes with service workers blocked)", async () => {
  const context = await env.browser.newContext({ serviceWorkers: "block" });
  const { page } = await newSignedUpPage(context, env.url, "firstlink", { serviceWorker: false });
  await saveName(page, "Linked");
  await page.getByRole("textbox", { name: "Photo URL", exact: true }).fill(`${env.url}/no-such-photo.png`);
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("Saved on this device.", { exact: true }).waitFor();
  await waitFor(() => page.evaluate(() => /no-such-photo/.test(localStorage.getItem("outpost-first-paint") ?? "")),
    "the link kept for the first paint");
  const { first, release } = await reloadWithWasmHeld(page);
  await first.getByRole("img", { name: "Linked", exact: true }).waitFor();
  assert.equal(await first.locator("img").count(), 0, "no broken picture");
  release();
  await page.getByRole("textbox", { name: "Name", exact: true }).waitFor();
  await context.close();
});

test("the form stays put while the server is unreachable and the retry countdown comes and goes", async () => {
  // Seen in Firefox: the countdown line appeared under the status and moved the form down
  // between the moment a click was aimed at Save and the moment it landed; it hit the Photo
  // URL field instead, and the change typed there was never saved.
  const { page } = await newSignedUpPage(env.browser, env.url, "still");
  await page.evaluate(() => {
    const save = document.querySelector("form.edit button[type=submit]");
    window.__tops = new Set();
    const watch = () => {
      window.__tops.add(Math.round(save.getBoundingClientRect().top));
      requestAnimationFrame(watch);
    };
    watch();
  });
  const attempts = () => env.proxy.requests.filter((r) => r.method === "PUT" && r.cut).length;
  env.proxy.cut();
  await saveName(page, "Still here");
  await page.getByText("Saved on this device.", { exact: true }).waitFor();
  await page.getByText(/^Retrying in \d+ s\.$/).waitFor();
  // A retry comes and goes: the countdown line is replaced by the attempt, then back.
  const before = attempts();
  await waitFor(() => attempts() > before, "a retry while the server is unreachable");
  await page.getByText(/^Retrying in \d+ s\.$/).waitFor();
  await env.proxy.restore();
  await waitForStatus(page, "synced");
  const tops = await page.evaluate(() => [...window.__tops]);
  assert.equal(tops.length, 1, `the Save button moved: its top was at ${tops.join(", ")} px`);
  await page.close();
});

test("concurrent edits on two devices show a conflict with both values, and the choice syncs", async () => {
  const { page: pageA, username } = await newSignedUpPage(env.browser, env.url, "clash");

  // Device A loses the server; meanwhile device B (the API) writes.
  env.proxy.cut();
  await saveName(pageA, "Name from A");
  await pageA.getByText("Saved on this device.", { exact: true }).waitFor();
  await waitForStatus(pageA, "error");
  const token = await apiToken(env.server.url, username);
  await apiPut(env.server.url, token, { name: "Name from B", photo_url: "https://example.com/b.png" });
  await env.proxy.restore();

  await waitForStatus(pageA, "conflict");
  const dialog = pageA.getByRole("dialog");
  await dialog.waitFor();
  const text = await dialog.textContent();
  assert.match(text, /Name/);
  assert.match(text, /Name from A/);
  assert.match(text, /Name from B/);
  assert.doesNotMatch(text, /Photo URL/, "the photo changed on one side only: no conflict there");
  if (ENGINE === "chromium") {
    // axe and screenshots through Playwright: Chromium only.
    await axe(pageA, "the conflict dialog");
    await screenshots(pageA, "conflict");
  }

  await dialog.getByRole("button", { name: "Keep mine" }).click();
  await waitForStatus(pageA, "synced");
  const final = await apiProfile(env.server.url, token);
  assert.equal(final.name, "Name from A");
  assert.equal(final.photo_url, "https://example.com/b.png", "the other device's clean change is kept");
  await pageA.getByRole("img", { name: "Name from A" }).waitFor();
  await pageA.close();
});

/**
 * Makes build `label` ("B") from the build `dir` serves: a changed boot module under a new
 * hashed name, and a changed inline stylesheet (the server's policy for the page follows its
 * new hash).
 */
function deployBuild(dir, label = "B") {
  const boot = readdirSync(dir).find((f) => /^boot-[0-9a-f]+\.js$/.test(f));
  const content = readFileSync(join(dir, boot), "utf8") + `\n// build ${label}\n`;
  const name = `boot-${createHash("sha256").update(content).digest("hex").slice(0, 16)}.js`;
  writeFileSync(join(dir, boot), content);
  renameSync(join(dir, boot), join(dir, name));
  const index = readFileSync(join(dir, "index.html"), "utf8")
    .replace(`/${boot}"`, `/${name}"`)
    .replace("</style>", `/* build ${label} */</style>`);
  assert.ok(index.includes(name) && index.includes(`/* build ${label} */`));
  writeFileSync(join(dir, "index.html"), index);
  const { build } = stampServiceWorker(dir, readFileSync(join(ROOT, "static/sw.js"), "utf8"));
  return { build, boot: name, oldBoot: boot };
}

test("an update that changes only sw.js and fails to install leaves the running cache whole", async () => {
  const live = mkdtempSync(join(tmpdir(), "outpost-live-"));
  cpSync(join(ROOT, "dist"), live, { recursive: true });
  const own = await startEngineServer(env.browser, { dist: live });
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(own.url);
    await waitForServiceWorker(page);
    const shell = () => page.evaluate(async () => {
      const names = (await caches.keys()).filter((name) => name.startsWith("outpost-shell-"));
      const cache = names.length === 1 ? await caches.open(names[0]) : null;
      return { names, files: cache ? (await cache.keys()).length : 0 };
    });
    const before = await shell();
    assert.equal(before.names.length, 1);
    // The app asks for an update check when it starts; a check asked for while another is in
    // flight joins it (Chromium), and that one may have read the old sw.js: "no install
    // started" was seen once in CI. So let any check in flight end, and watch for the install
    // from before the deploy, whoever's check starts it.
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      await registration.update();
      registration.addEventListener("updatefound", () => {
        const worker = registration.installing;
        window.__found = true;
        const settle = () => {
          if (worker.state === "redundant" || worker.state === "installed") window.__installed = worker.state;
        };
        worker.addEventListener("statechange", settle);
        settle();
      }, { once: true });
    });
    // A deploy that changes only the worker (its cache name is the other files' hash, so the
    // same) while one of its files cannot be fetched: that install fails. The new sw.js lands
    // in one rename: a check must never read half of it.
    for (const file of ["sw.js.br", "sw.js.gz", "manifest.webmanifest"]) rmSync(join(own.dist, file), { force: true });
    writeFileSync(join(own.dist, "sw.js.new"), `${readFileSync(join(own.dist, "sw.js"), "utf8")}\n// only sw.js\n`);
    renameSync(join(own.dist, "sw.js.new"), join(own.dist, "sw.js"));
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      await registration.update().catch((error) => { window.__refused = String(error); });
    });
    const outcome = await waitFor(
      () => page.evaluate(() => window.__installed
        ?? (window.__refused && !window.__found ? `the check failed: ${window.__refused}` : null)),
      "the new worker's install to end",
    );
    assert.equal(outcome, "redundant", "the install failed");
    assert.deepEqual(await shell(), before, "the running worker's cache, whole");
  } finally {
    await closeContextThen(context, () => own.stop(), () => rmSync(live, { recursive: true, force: true }));
  }
});

test("a build installing while the one before it takes over keeps every file of its cache", async () => {
  const live = mkdtempSync(join(tmpdir(), "outpost-live-"));
  cpSync(join(ROOT, "dist"), live, { recursive: true });
  const own = await startEngineServer(env.browser, { dist: live });
  // A proxy of this test's own, to hold one file of build C while build B takes over.
  const proxy = await startProxy(own.url);
  const context = await env.browser.newContext();
  let release;
  try {
    const page = await context.newPage();
    await page.goto(proxy.url);
    await waitForServiceWorker(page);
    const workers = () => page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      const state = (worker) => worker?.state ?? null;
      return { installing: state(registration.installing), waiting: state(registration.waiting), active: state(registration.active) };
    });
    // A check asked for while another is in flight joins it (Chromium), and the app's own
    // check at start is often in flight as the page comes under the worker: it may have read
    // sw.js before the deploy, and the build then never installed (CI, once; 4 of 4 with that
    // check's answer held past the deploy). So after build B's deploy the check in flight
    // ends first, then one that starts after the deploy; both are awaited (nothing is held
    // yet), so no check is left queued to start build C's install before the test asks.
    const checkAfterDeploy = () => page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      await registration.update().catch(() => {});
      await registration.update().catch(() => {});
    });
    // Not awaited: in Firefox and WebKit its promise waits for the install it starts, which
    // the test holds.
    const update = () => page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      registration.update().catch(() => {});
    });
    const skipWaiting = () => page.evaluate(async () => {
      (await navigator.serviceWorker.getRegistration()).waiting.postMessage({ type: "SKIP_WAITING" });
    });
    const cacheFiles = (name) => page.evaluate(async (cache) =>
      (await caches.has(cache)) ? (await (await caches.open(cache)).keys()).length : 0, name);
    // Waits for the workers to reach `wanted`; a timeout says where they were and which
    // caches existed (one failure in a clean clone's run, not seen again in 32 runs).
    const waitForWorkers = async (wanted, what) => {
      let last;
      try {
        await waitFor(async () => wanted(last = await workers()), what);
      } catch (error) {
        const keys = await page.evaluate(() => caches.keys()).catch((e) => `${e}`);
        throw new Error(`${error.message}; workers ${JSON.stringify(last)}, caches ${JSON.stringify(keys)}`);
      }
    };

    const b = deployBuild(own.dist, "B");
    await checkAfterDeploy();
    await waitForWorkers((now) => now.waiting === "installed", "build B to wait");
    // Build C is deployed; its install holds on its boot module while the person's Reload
    // makes build B take over (build B's activation cleans up the caches of other builds).
    const c = deployBuild(own.dist, "C");
    const held = new Promise((resolve) => { release = resolve; });
    let asked = false;
    proxy.route(`/${c.boot}`, async (route) => {
      asked = true;
      await held;
      await route.continue();
    });
    await update();
    await waitFor(() => asked, "build C's install to fetch its boot module");
    await skipWaiting();
    await waitForWorkers((now) => now.waiting === null && now.active === "activated" && now.installing !== null,
      "build B to take over while build C installs");
    const bFiles = await cacheFiles(`outpost-shell-${b.build}`);
    assert.ok(bFiles > 0, "build B runs from its cache");
    release();
    await waitForWorkers((now) => now.waiting === "installed", "build C to wait");
    assert.equal(await cacheFiles(`outpost-shell-${c.build}`), bFiles,
      "build C's cache holds every file of its build (once it runs, the app must open offline)");

    // Once build C takes over, its cache is the only one left.
    await skipWaiting();
    await waitFor(async () => {
      const keys = await page.evaluate(() => caches.keys());
      return keys.length === 1 && keys[0] === `outpost-shell-${c.build}`;
    }, "build C's cache alone");
  } finally {
    release?.();
    await closeContextThen(context, () => proxy.close(), () => own.stop(), () => rmSync(live, { recursive: true, force: true }));
  }
});

test("a new build shows 'A new version is ready'; Reload runs it, drops old files, keeps an edit waiting for sign-in", async () => {
  const live = mkdtempSync(join(tmpdir(), "outpost-live-"));
  cpSync(join(ROOT, "dist"), live, { recursive: true });
  const own = await startEngineServer(env.browser, { dist: live });
  const context = await env.browser.newContext();
  try {
    const { page, username } = await newSignedUpPage(context, own.url, "upd");
    const [cacheA] = await page.evaluate(() => caches.keys());

    // The server ends this session (as an expiry would): the next PUT gets 401, and the edit
    // must wait on this device, through the update, until the person signs in again.
    const pageToken = (await readAppStore(page, "session", "get", "current")).token;
    const revoked = await fetch(`${own.url}/api/sessions/current`, {
      method: "DELETE", headers: { Authorization: `Bearer ${pageToken}` },
    });
    assert.equal(revoked.status, 204);
    await saveName(page, "Typed in build A");
    assert.match(await waitForStatus(page, "error"), /session has ended/);

    const b = deployBuild(own.dist);
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await page.getByText("A new version is ready.").waitFor();
    if (ENGINE === "chromium") await screenshots(page, "update-ready");
    // Typing not saved yet would be lost by the reload: Reload says so and waits.
    const photoBox = page.getByRole("textbox", { name: "Photo URL", exact: true });
    await photoBox.fill("https://example.com/typed-before-the-update.png");
    await page.getByRole("button", { name: "Reload" }).click();
    await page.getByText("Save your changes first: reloading now would lose them.").waitFor();
    assert.equal(await photoBox.inputValue(), "https://example.com/typed-before-the-update.png");
    // The warning is said once: the save it asks for does not put it up again (a screen
    // reader would read it out again as the person does what it says).
    await page.evaluate(() => {
      window.alertsShown = 0;
      new MutationObserver((changes) => {
        for (const change of changes) {
          if (change.type === "attributes") window.alertsShown += 1;
          for (const node of change.addedNodes) if (node.getAttribute?.("role") === "alert") window.alertsShown += 1;
        }
      }).observe(document.querySelector(".update-banner"), { childList: true, subtree: true, attributes: true, attributeFilter: ["role"] });
    });
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("Saved on this device.", { exact: true }).waitFor();
    assert.equal(await page.evaluate(() => window.alertsShown), 0, "the warning was not put up again");
    // Typing not saved in another tab holds the update back too: after it, that tab (still
    // build A) may no longer be able to save it.
    const other = await context.newPage();
    await other.goto(own.url);
    const otherName = other.getByRole("textbox", { name: "Name", exact: true });
    await waitFor(async () => (await otherName.inputValue()) === "Typed in build A", "the other tab's form");
    await otherName.fill("Typed in the other tab");
    await page.getByRole("button", { name: "Reload" }).click();
    await page.getByText(/Another tab holds changes that are not saved yet/).waitFor();
    const boot = await page.evaluate(() => document.querySelector("script[src*='/boot-']")?.src ?? "");
    assert.ok(boot.endsWith(b.oldBoot), `still build A (${boot})`);
    await other.close();
    await page.getByRole("button", { name: "Reload" }).click();

    await waitFor(async () => {
      const src = await page.evaluate(() => document.querySelector("script[src*='/boot-']")?.src ?? "");
      return src.endsWith(b.boot);
    }, "the page to run build B");
    // Its stylesheet applies: the page's policy allows build B's inline style.
    const pageStyle = await page.evaluate(() => ({
      text: [...document.querySelectorAll("style")].map((s) => s.textContent).join(""),
      blue: getComputedStyle(document.documentElement).getPropertyValue("--blue").trim(),
    }));
    assert.ok(pageStyle.text.includes("/* build B */"));
    assert.equal(pageStyle.blue, "#1d4f91");
    const name = page.getByRole("textbox", { name: "Name", exact: true });
    await waitFor(async () => (await name.inputValue()) === "Typed in build A", "the pending edit in build B");
    assert.equal(await page.getByRole("textbox", { name: "Photo URL", exact: true }).inputValue(),
      "https://example.com/typed-before-the-update.png", "saved before the reload");
    const caches = await waitFor(async () => {
      const keys = await page.evaluate(() => caches.keys());
      return keys.length === 1 ? keys : null;
    }, "one cache left");
    assert.notEqual(caches[0], cacheA);
    assert.equal(caches[0], `outpost-shell-${b.build}`);
    const urls = await page.evaluate(async (name) => (await (await caches.open(name)).keys()).map((r) => r.url), caches[0]);
    assert.ok(urls.some((u) => u.endsWith(b.boot)));
    assert.ok(!urls.some((u) => u.endsWith(b.oldBoot)), "no file of build A is left");

    await waitForStatus(page, "error");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in again" }).click();
    const token = await apiToken(own.url, username);
    await waitFor(async () => (await apiProfile(own.url, token)).name === "Typed in build A", "the edit to sync");
    await waitForStatus(page, "synced");
  } finally {
    await closeContextThen(context, () => own.stop(), () => rmSync(live, { recursive: true, force: true }));
  }
});

chromiumOnly("the profile view fits 320 px and does not shift when data arrives",
  "layout-shift entries (a Chromium API), viewport and init script through Playwright", async () => {
  const context = await env.browser.newContext({ viewport: { width: 320, height: 700 } });
  await context.addInitScript(() => {
    window.__shift = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__shift += entry.value;
    }).observe({ type: "layout-shift", buffered: true });
  });
  const page = await context.newPage();
  const username = newUsername("narrow");
  await page.goto(env.server.url);
  await signUp(page, username);
  await saveName(page, "A rather long display name that has to wrap on a narrow phone");
  // The status said "synced" before the save too: wait for the save itself, or the reload can
  // come before it was committed (seen: the page then reopened on the old name).
  await page.getByText("Saved on this device.", { exact: true }).waitFor();
  await waitForStatus(page, "synced");
  await page.reload();
  await waitForStatus(page, "synced");
  await page.getByRole("img", { name: /A rather long display name/ }).waitFor();
  const { overflow, shift } = await page.evaluate(() => ({
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    shift: window.__shift,
  }));
  assert.equal(overflow, 0, "no horizontal scrolling at 320 px");
  assert.ok(shift < 0.1, `cumulative layout shift ${shift} should stay under 0.1`);
  await context.close();
});
