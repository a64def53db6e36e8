// Through `make run-cluster`'s load balancer: two devices whose event streams are held by
// different instances see each other's saves by push (PostgreSQL's NOTIFY carries them), and
// an instance killed with SIGKILL loses no acknowledged save while its devices reconnect
// through the balancer to the other one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { launchBrowser, startCluster, waitFor } from "./lib/harness.mjs";
import { PASSWORD, newUsername, signUp, signIn, saveName, waitForStatus, apiToken, apiProfile } from "./lib/app.mjs";

let cluster;
let browser;
before(async () => {
  cluster = await startCluster();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await cluster?.stop();
});

/** How many event streams an instance holds now, from its /metrics. */
async function streamsOn({ url }) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("outpost_event_streams_open "));
  return Number(line.split(" ")[1]);
}

/** The same for each instance of the cluster. */
function streamsPerInstance() {
  return Promise.all(cluster.instances.map(streamsOn));
}

test("two devices on different instances see each other's saves by push", async (t) => {
  assert.equal(cluster.instances.length, 2);
  const a = await browser.newContext();
  const b = await browser.newContext();
  // Closed whatever the outcome: a stream left open would be counted by the next test.
  t.after(() => Promise.all([a.close(), b.close()]));
  const pageA = await a.newPage();
  const pageB = await b.newPage();
  const username = newUsername("cluster");
  await pageA.goto(cluster.url);
  await signUp(pageA, username);
  await pageB.goto(cluster.url);
  await signIn(pageB, username);
  await waitForStatus(pageA, "synced");
  await waitForStatus(pageB, "synced");
  // The balancer takes turns (one nginx worker, round robin); until each instance holds one
  // of the two streams, device B opens its stream again. A reload mostly sends two requests
  // through the balancer (its profile, then its stream), sometimes also the browser's checks
  // of sw.js, so reloads alone can put the stream on the same instance every time (the CI run
  // of 53ff4f9, ten times): every other attempt first sends one request more, which moves the
  // turn on by one, so an even count and an odd one each end within two attempts.
  for (let attempt = 0; ; attempt += 1) {
    let counts = [];
    await waitFor(async () => {
      counts = await streamsPerInstance();
      return counts[0] + counts[1] === 2;
    }, "both event streams open");
    if (counts[0] === 1 && counts[1] === 1) break;
    assert.ok(attempt < 10, `streams stay on one instance: ${counts}`);
    if (attempt % 2 === 0) assert.equal((await fetch(`${cluster.url}/readyz`)).status, 200);
    await pageB.reload();
    await waitForStatus(pageB, "synced");
  }

  await saveName(pageA, "Saved through one instance");
  const nameB = pageB.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await nameB.inputValue()) === "Saved through one instance",
    "device B to show device A's save", 2_000);
  await saveName(pageB, "And back through the other");
  const nameA = pageA.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await nameA.inputValue()) === "And back through the other",
    "device A to show device B's save", 2_000);
});

test("an instance killed with SIGKILL loses no acknowledged save, and its devices reconnect through the balancer", async (t) => {
  const a = await browser.newContext();
  const b = await browser.newContext();
  t.after(() => Promise.all([a.close(), b.close()]));
  const pageA = await a.newPage();
  const pageB = await b.newPage();
  const username = newUsername("crash");
  await pageA.goto(cluster.url);
  await signUp(pageA, username);
  await pageB.goto(cluster.url);
  await signIn(pageB, username);
  await waitForStatus(pageA, "synced");
  await waitForStatus(pageB, "synced");
  let counts = [];
  await waitFor(async () => {
    counts = await streamsPerInstance();
    return counts[0] + counts[1] === 2;
  }, "both event streams open");

  await saveName(pageA, "Before the crash");
  const token = await apiToken(cluster.url, username);
  await waitFor(async () => (await apiProfile(cluster.url, token)).name === "Before the crash",
    "the save acknowledged by the cluster");
  await waitForStatus(pageA, "synced");

  // Kill an instance that holds at least one of the two streams.
  const victim = counts[0] > 0 ? 0 : 1;
  const survivor = cluster.instances[1 - victim];
  process.kill(cluster.instances[victim].pid, "SIGKILL");
  await waitFor(async () => (await streamsOn(survivor)) === 2,
    "both devices' streams to reconnect to the other instance through the balancer", 20_000);
  assert.equal((await apiProfile(cluster.url, token)).name, "Before the crash", "the acknowledged save survived");

  await saveName(pageB, "After the crash");
  const nameA = pageA.getByRole("textbox", { name: "Name", exact: true });
  await waitFor(async () => (await nameA.inputValue()) === "After the crash",
    "device A to get device B's save by push after reconnecting", 5_000);
});

test("a photo as large as the app sends goes through the balancer, and one too large gets the server's JSON error", async () => {
  const username = newUsername("photo");
  const created = await fetch(`${cluster.url}/api/accounts`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(created.status, 201);
  const { token } = await created.json();
  const upload = (bytes) => fetch(`${cluster.url}/api/photos/${createHash("sha256").update(bytes).digest("hex")}`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "image/jpeg" },
    body: bytes,
  });
  // A JPEG's first bytes, then about what the app's prepared photos weigh at most.
  const jpeg = (size) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(size, 7)]);
  const photo = jpeg(200 * 1024);
  assert.equal((await upload(photo)).status, 201);
  const sha256 = createHash("sha256").update(photo).digest("hex");
  const fetched = await fetch(`${cluster.url}/api/photos/${sha256}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(fetched.status, 200);
  assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(photo), "the same bytes back");
  const tooLarge = await upload(jpeg(1100 * 1024));
  assert.equal(tooLarge.status, 413);
  assert.equal((await tooLarge.json()).error, "payload_too_large");
});
