// Background Sync fired on demand (Chromium only: through CDP).
import { waitFor } from "./harness.mjs";

/**
 * Fires the app's sync tag at its service worker registration for `url`, through a CDP
 * session of `page` (any page of the context). Chromium fires the sync itself once online;
 * firing it here makes a test independent of that timing (the worker's routine is
 * idempotent). It needs the context online: while it is offline Chromium dispatched nothing
 * (seen: the worker never asked for its lock).
 */
export async function dispatchSync(context, page, url) {
  const cdp = await context.newCDPSession(page);
  const registrations = [];
  cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
  await cdp.send("ServiceWorker.enable");
  const registration = await waitFor(
    () => registrations.find((r) => r.scopeURL.startsWith(url) && !r.isDeleted), "the registration");
  await cdp.send("ServiceWorker.dispatchSyncEvent", {
    origin: new URL(url).origin, registrationId: registration.registrationId, tag: "outpost-sync", lastChance: false,
  });
}

/**
 * Opens a blank page in `context` (a Playwright context whose app tabs are closed), brings
 * the context back online and fires the app's sync tag. Returns the blank page.
 */
export async function syncWithNoTabOpen(context, url) {
  const blank = await context.newPage();
  await context.setOffline(false);
  await dispatchSync(context, blank, url);
  return blank;
}
