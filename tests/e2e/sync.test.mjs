// The data layer end to end (issue: browser data layer): a real server, real IndexedDB, a real
// browser (every engine: OUTPOST_E2E_ENGINE) losing the server and getting it back, and
// Chromium going offline and online.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "./lib/harness.mjs";
import { chromiumOnly, useEngine } from "./lib/browser/index.mjs";
import {
  newUsername, signUp, signIn, saveName, waitForStatus, waitForServiceWorker, apiToken, apiProfile, newSignedUpPage, readAppStore,
} from "./lib/app.mjs";

const env = useEngine({ before, after, afterEach });

test("an edit made while the server is unreachable survives a reload and reaches the server when it is back", async () => {
  const page = await env.browser.newPage();
  const username = newUsername("unr");
  await page.goto(env.url);
  await signUp(page, username);
  await waitForStatus(page, "synced", "online");
  await waitForServiceWorker(page);

  env.proxy.cut();
  await saveName(page, "Written while unreachable");
  await page.getByText("Saved on this device.", { exact: true }).waitFor();
  // The browser still says it is online: the sync fails, and the status says why.
  assert.match(await waitForStatus(page, "error", "online"), /could not be reached/);

  await page.reload();
  const name = page.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await name.inputValue()) === "Written while unreachable", "the edit after a reload with the server unreachable");
  await waitForStatus(page, "error", "online");

  const token = await apiToken(env.server.url, username);
  assert.equal((await apiProfile(env.server.url, token)).name, username, "nothing reached the server yet");
  await env.proxy.restore();
  await waitFor(async () => (await apiProfile(env.server.url, token)).name === "Written while unreachable",
    "the server to hold the edit", 2_000);
  assert.match(await waitForStatus(page, "synced", "online"), /Last synced at \d\d:\d\d:\d\d/);
  await page.close();
});

chromiumOnly("an edit made offline survives a reload and reaches the server when back online",
  "navigator.onLine false (Playwright's context.setOffline)", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const username = newUsername("off");
  await page.goto(env.server.url);
  await signUp(page, username);
  await waitForStatus(page, "synced", "online");
  await waitForServiceWorker(page);

  await context.setOffline(true);
  await waitForStatus(page, "synced", "offline");
  await saveName(page, "Written offline");
  await page.getByText("Saved on this device.", { exact: true }).waitFor();
  await waitForStatus(page, "pending", "offline");

  await page.reload();
  const name = page.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await name.inputValue()) === "Written offline", "the edit after an offline reload");
  assert.match(await waitForStatus(page, "pending", "offline"), /Offline/);

  const token = await apiToken(env.server.url, username);
  assert.equal((await apiProfile(env.server.url, token)).name, username, "nothing reached the server yet");
  await context.setOffline(false);
  await waitFor(async () => (await apiProfile(env.server.url, token)).name === "Written offline",
    "the server to hold the offline edit", 2_000);
  assert.match(await waitForStatus(page, "synced", "online"), /Last synced at \d\d:\d\d:\d\d/);
  await context.close();
});

test("a save on one device appears on another through push", async () => {
  const pageA = await env.browser.newPage();
  const pageB = await env.browser.newPage();
  const username = newUsername("push");
  await pageA.goto(env.url);
  await signUp(pageA, username);
  await pageB.goto(env.url);
  await signIn(pageB, username);
  await waitForStatus(pageA, "synced");
  await waitForStatus(pageB, "synced");

  await saveName(pageA, "Pushed across devices");
  const nameB = pageB.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await nameB.inputValue()) === "Pushed across devices",
    "device B to show device A's save", 2_000);
  await pageA.close();
  await pageB.close();
});

test("two tabs of one browser send exactly one PUT per save and show the same state", async () => {
  const context = await env.browser.newContext();
  const since = env.proxy.requests.length;
  const puts = () => env.proxy.requests.slice(since).filter((r) => r.method === "PUT" && r.path === "/api/profile").length;
  const tab1 = await context.newPage();
  const username = newUsername("tabs");
  await tab1.goto(env.url);
  await signUp(tab1, username);
  const tab2 = await context.newPage();
  await tab2.goto(env.url);
  await tab2.getByRole("textbox", { name: "Name", exact: true }).waitFor();
  await waitForStatus(tab1, "synced");
  await waitForStatus(tab2, "synced");

  await saveName(tab1, "Saved in tab one");
  const name2 = tab2.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await name2.inputValue()) === "Saved in tab one", "tab two to show the save");
  await waitForStatus(tab1, "synced");
  await waitForStatus(tab2, "synced");
  const token = await apiToken(env.server.url, username);
  await waitFor(async () => (await apiProfile(env.server.url, token)).name === "Saved in tab one", "the server");
  assert.equal(puts(), 1);

  await saveName(tab2, "Saved in tab two");
  const name1 = tab1.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await name1.inputValue()) === "Saved in tab two", "tab one to show the save");
  await waitForStatus(tab1, "synced");
  await waitForStatus(tab2, "synced");
  assert.equal((await apiProfile(env.server.url, token)).version, 3);
  assert.equal(puts(), 2);
  await context.close();
});

test("signing out warns about unsynced changes and leaves no data for the next person", async () => {
  const { page, username } = await newSignedUpPage(env.browser, env.url, "out");

  env.proxy.cut();
  await saveName(page, "Not on the server yet");
  await waitForStatus(page, "error");
  await page.getByRole("button", { name: "Sign out" }).click();
  const warning = page.getByRole("alertdialog");
  await warning.waitFor();
  assert.match(await warning.textContent(), /not reached the server/);
  await waitFor(async () => (await page.evaluate(() => document.activeElement?.textContent?.trim())) === "Cancel",
    "focus on the safe choice");
  await warning.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await page.getByRole("textbox", { name: "Name", exact: true }).inputValue(), "Not on the server yet");

  await env.proxy.restore();
  await waitForStatus(page, "synced", "online");
  assert.deepEqual(await readAppStore(page, "profiles", "getAllKeys"), [username]);
  const firstPaint = () => page.evaluate(() => JSON.parse(localStorage.getItem("outpost-first-paint") ?? "null"));
  assert.equal((await firstPaint())?.name, "Not on the server yet", "the next start's first paint");
  await page.reload();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  assert.equal(await page.evaluate(() => performance.getEntriesByName("outpost-painted").length), 1,
    "the inline first paint ran (the page's policy allows it by hash)");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  assert.deepEqual(await readAppStore(page, "profiles", "getAllKeys"), []);
  assert.equal(await firstPaint(), null, "no name left for the first paint");
  await page.reload();
  await page.getByRole("button", { name: "Create account" }).waitFor();
  assert.equal(await page.locator("#first-paint").count(), 0);
  const token = await apiToken(env.server.url, username);
  assert.equal((await apiProfile(env.server.url, token)).name, "Not on the server yet");
  await page.close();
});

test("a schema upgrade blocked by an old tab tells the person to close it, then continues", async () => {
  const context = await env.browser.newContext();
  // An "old tab": a page of the same origin holding the version-1 database open and ignoring
  // `versionchange`, as a tab of an older build would.
  const old = await context.newPage();
  await old.goto(`${env.url}/healthz`);
  await old.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open("outpost", 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore("profiles");
      open.result.createObjectStore("session");
    };
    open.onsuccess = () => {
      window.oldConnection = open.result;
      resolve();
    };
    open.onerror = () => reject(open.error);
  }));

  const page = await context.newPage();
  await page.goto(env.url);
  await page.getByText(/close that tab to continue/).waitFor();
  assert.equal(await page.getByRole("textbox", { name: "Username" }).count(), 0);

  await old.evaluate(() => window.oldConnection.close());
  await page.getByRole("textbox", { name: "Username" }).waitFor();
  await context.close();
});
