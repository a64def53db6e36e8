// Storage the browser may clear. Persistence is asked for after the first save and its answer
// shown in Settings. Storage the browser cleared by itself (Safari deletes a site's IndexedDB,
// caches and service worker after seven days without a visit, but keeps the cookies its server
// set) is said in words, instead of a sign-in page as if the person were new. The clearing
// test is Chromium's only: its DevTools protocol clears an origin's storage and leaves its
// cookies, as Safari's rule does.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser, waitFor } from "./lib/harness.mjs";
import { newSignedUpPage, saveName, signIn, waitForStatus } from "./lib/app.mjs";

const env = useServerAndBrowser({ before, after, afterEach });

const CLEARED = /This browser removed the data stored on this device/;

/** Waits for the sign-in page and returns how many notes it shows. */
async function notesOnSignIn(page) {
  await page.getByRole("textbox", { name: "Username" }).waitFor();
  return page.getByRole("note").count();
}

test("a browser that cleared the app's storage is told so, until the person signs out", async () => {
  const context = await env.browser.newContext();
  const { page, username } = await newSignedUpPage(context, env.server.url, "cleared");
  const cdp = await context.newCDPSession(page);
  await cdp.send("Storage.clearDataForOrigin", {
    origin: env.server.url,
    storageTypes: "indexeddb,service_workers,cache_storage,local_storage",
  });
  await page.reload();
  const note = page.getByRole("note");
  await note.waitFor();
  assert.match(await note.textContent(), CLEARED);

  // Signing in again brings the profile back, without the note.
  await signIn(page, username);
  await waitForStatus(page, "synced");
  assert.equal(await page.getByRole("note").count(), 0);

  // Signing out is the person's choice: the next start says nothing.
  await page.getByRole("button", { name: "Sign out" }).click();
  assert.equal(await notesOnSignIn(page), 0);
  await page.reload();
  assert.equal(await notesOnSignIn(page), 0);
  await context.close();
});

test("a browser never signed in here shows no note", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(env.server.url);
  assert.equal(await notesOnSignIn(page), 0);
  await context.close();
});

test("persistence is asked for after the first save, and its answer shown and kept", async () => {
  const context = await env.browser.newContext();
  const { page } = await newSignedUpPage(context, env.server.url, "persist");
  const storage = page.getByText(/^Storage on this device:/);
  assert.match(await storage.textContent(), /not asked yet/);
  await saveName(page, "Kept");
  await page.getByText("Saved on this device.").waitFor();
  const answered = /^Storage on this device: (kept|the browser may clear it)/;
  await page.waitForFunction(
    (pattern) => new RegExp(pattern).test(document.querySelector("p.storage")?.textContent ?? ""),
    answered.source,
  );
  const answer = await storage.textContent();
  await page.reload();
  await waitForStatus(page, "synced");
  await waitFor(async () => (await storage.textContent()) === answer, "the answer remembered after a reload");
  await context.close();
});
