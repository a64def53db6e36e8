// Background Sync with no app tab open (Chromium only: fired through CDP).
import { waitFor } from "./harness.mjs";

/**
 * Opens a blank page in `context` (a Playwright context whose app tabs are closed), finds the
 * app's service worker registration for `url`, brings the context back online and fires the
 * app's sync tag. Chromium may fire the sync itself once online; firing it as well makes a
 * test independent of its timing (the worker's routine is idempotent). Returns the blank page.
 */
export async function syncWithNoTabOpen(context, url) {
  const blank = await context.newPage();
  const cdp = await context.newCDPSession(blank);
  const registrations = [];
  cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
  await cdp.send("ServiceWorker.enable");
  const registration = await waitFor(
    () => registrations.find((r) => r.scopeURL.startsWith(url) && !r.isDeleted), "the registration");
  await context.setOffline(false);
  await cdp.send("ServiceWorker.dispatchSyncEvent", {
    origin: new URL(url).origin, registrationId: registration.registrationId, tag: "outpost-sync", lastChance: false,
  });
  return blank;
}
