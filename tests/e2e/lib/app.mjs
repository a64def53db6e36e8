// Steps a person takes in the app, and checks against the server's API, shared by the tests.
import { waitFor } from "./harness.mjs";

export const PASSWORD = "correct horse battery";

let counter = 0;
/** A username no other test uses. */
export function newUsername(prefix = "user") {
  counter += 1;
  return `${prefix}${process.pid}x${counter}x${Math.floor(Math.random() * 1e6)}`.slice(0, 32);
}

/** Creates an account through the UI and waits for the profile view. */
export async function signUp(page, username) {
  await page.getByRole("textbox", { name: "Username" }).fill(username);
  await page.getByRole("textbox", { name: "Password" }).fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("textbox", { name: "Name", exact: true }).waitFor();
}

/** Signs in through the UI and waits for the profile view. */
export async function signIn(page, username) {
  await page.getByRole("textbox", { name: "Username" }).fill(username);
  await page.getByRole("textbox", { name: "Password" }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("textbox", { name: "Name", exact: true }).waitFor();
}

/** Types a new name and presses Save. */
export async function saveName(page, name) {
  const box = page.getByRole("textbox", { name: "Name", exact: true });
  await box.fill(name);
  await page.getByRole("button", { name: "Save" }).click();
}

/**
 * Waits until the status element's `data-sync` (and optionally connectivity) match; resolves
 * to its words at that same moment. One read of the page for all three: the status may move
 * on between two reads (seen: "synced" read, then the words of the refresh that followed,
 * "Syncing…", when the event stream came back and the app checked the server once more).
 */
export async function waitForStatus(page, sync, connectivity) {
  const read = () => {
    const status = document.querySelector("[role=status]");
    return status && {
      sync: status.getAttribute("data-sync"),
      connectivity: status.getAttribute("data-connectivity"),
      words: status.textContent,
    };
  };
  const seen = await waitFor(async () => {
    const s = await page.evaluate(read);
    return s && s.sync === sync && (!connectivity || s.connectivity === connectivity) && s;
  }, `status ${sync}${connectivity ? `/${connectivity}` : ""}`);
  return seen.words;
}

/** Waits until the service worker controls the page (needed before going offline). */
export async function waitForServiceWorker(page) {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
    }
  });
}

/** A fresh API token for `username`, straight from the server. */
export async function apiToken(url, username) {
  const response = await fetch(`${url}/api/sessions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  if (!response.ok) throw new Error(`sign-in failed: ${response.status}`);
  return (await response.json()).token;
}

/** The server's copy of the profile. */
export async function apiProfile(url, token) {
  const response = await fetch(`${url}/api/profile`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET /api/profile: ${response.status}`);
  return response.json();
}

/** Writes the profile through the API, as another device would. */
export async function apiPut(url, token, fields) {
  const current = await apiProfile(url, token);
  const response = await fetch(`${url}/api/profile`, {
    method: "PUT",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      "If-Match": `"${current.version}"`,
    },
    body: JSON.stringify({ name: current.name, photo_url: current.photo_url, ...fields }),
  });
  if (!response.ok) throw new Error(`PUT /api/profile: ${response.status}`);
  return response.json();
}

/**
 * Opens the app in a new page of `context`, creates an account, and waits until it is synced
 * and the service worker controls the page (so it can go offline). `serviceWorker: false`
 * skips that wait, for contexts that block service workers.
 */
export async function newSignedUpPage(context, url, prefix, { serviceWorker = true } = {}) {
  const page = await context.newPage();
  const username = newUsername(prefix);
  await page.goto(url);
  await signUp(page, username);
  await waitForStatus(page, "synced");
  if (serviceWorker) await waitForServiceWorker(page);
  return { page, username };
}

/** Runs `op` ("get", "getAllKeys") on a store of the app's IndexedDB inside the page. */
export function readAppStore(page, store, op, key) {
  return onAppStore(page, store, "readonly", op, key);
}

/** Empties a store of the app's IndexedDB inside the page, as a browser clearing data would. */
export function clearAppStore(page, store) {
  return onAppStore(page, store, "readwrite", "clear");
}

/** The result of `op` on `store`, once its transaction (of `mode`) has committed. */
function onAppStore(page, store, mode, op, key) {
  return page.evaluate(([store, mode, op, key]) => new Promise((resolve, reject) => {
    const open = indexedDB.open("outpost");
    open.onsuccess = () => {
      const transaction = open.result.transaction(store, mode);
      const request = transaction.objectStore(store)[op](key);
      transaction.oncomplete = () => {
        resolve(request.result);
        open.result.close();
      };
      // An error aborts the transaction; `error` is set by then.
      transaction.onabort = () => reject(transaction.error ?? new Error(`${op} on ${store} aborted`));
    };
    open.onerror = () => reject(open.error);
  }), [store, mode, op, key]);
}
