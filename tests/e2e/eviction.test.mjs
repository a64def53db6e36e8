// Storage the browser cleared by itself (Safari deletes a site's IndexedDB, caches and service
// worker after seven days without a visit, but keeps the cookies its server set): the app says
// why the person is signed out instead of opening on the sign-in page as if they were new.
// Chromium only: its DevTools protocol clears an origin's storage and leaves its cookies, as
// Safari's rule does.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { useServerAndBrowser } from "./lib/harness.mjs";
import { newSignedUpPage, signIn, waitForStatus } from "./lib/app.mjs";

const env = useServerAndBrowser({ before, after, afterEach });

const CLEARED = /This browser cleared what Outpost kept on this device/;

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
