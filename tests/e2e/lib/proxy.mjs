// The network between the pages and the server, the same in every engine: an HTTP/1.1 proxy in
// front of the server that a test can cut and restore, and whose answers it can hold, lose or
// garble per request (`route`), as Playwright's `page.route` does in Chromium alone.
//
// Cut, the server is unreachable as after a crash: every open connection (the event stream
// too) is closed, and each new one is closed as soon as its request arrives, unanswered, until
// `restore()`. `navigator.onLine` stays true, as it does when only the server is gone. The proxy
// notes every request it sees (`requests`), so a test can count what the pages asked for.
//
// Connections are closed with `destroy()`, not `resetAndDestroy()`: a reset of a socket with a
// pending shutdown (one side had ended) leaves a request libuv never completes, and Node then
// spins forever at exit (seen with WebKit runs: the test file's process never ended).
import { Agent, createServer, request as httpRequest } from "node:http";

/** Headers that belong to one hop (each side of the proxy keeps its own connection). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "upgrade"]);

const endToEnd = (headers) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())));

/** Reads a whole body. */
function readBody(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
    stream.on("aborted", () => reject(new Error("the connection closed mid-body")));
  });
}

/**
 * Starts a proxy on 127.0.0.1 (a free port, or `port`) to `target` ("http://host:port").
 * Resolves to `{ url, cut(), restore(), isCut, connections, requests, route(), unroute(),
 * close() }`; `connections` counts every connection the browsers opened through it.
 */
export async function startProxy(target, { port = 0 } = {}) {
  const { hostname, port: targetPort } = new URL(target);
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set();
  const upstreams = new Set();
  const state = { cut: false, connections: 0, server: null, port };
  const requests = [];
  const routes = [];

  /** Sends the request on to the server; resolves to its answer (the body not yet read). */
  const send = (seen) => new Promise((resolve, reject) => {
    const upstream = httpRequest({
      host: hostname,
      port: Number(targetPort),
      method: seen.method,
      path: seen.url,
      headers: endToEnd(seen.headers),
      agent,
    });
    upstreams.add(upstream);
    upstream.on("close", () => upstreams.delete(upstream));
    upstream.on("response", resolve);
    upstream.on("error", reject);
    upstream.end(seen.body);
  });

  /**
   * While a route is in place every answer closes its connection, so each request arrives on a
   * fresh one: Chromium and Firefox send a request again by themselves when a reused
   * connection closes before its answer, which would hide the lost answer a test stages.
   */
  const hop = () => (routes.length ? { Connection: "close" } : {});

  /** Streams the server's answer to the page (the event stream as it comes). */
  const pass = (answer, res) => {
    res.writeHead(answer.statusCode, { ...endToEnd(answer.headers), ...hop() });
    res.flushHeaders();
    answer.pipe(res);
    answer.on("error", () => res.destroy());
    answer.on("aborted", () => res.destroy());
  };

  /** The page's side of one request, as a route handler sees it (Playwright's Route, in part). */
  const routeFor = (seen, res) => ({
    request: seen,
    /**
     * On to the server, its answer back to the page as it is; with `hold`, the answer waits
     * (the server has answered) until the promise `hold()` returns resolves.
     */
    async continue({ hold } = {}) {
      const answer = await send(seen);
      if (hold) await hold();
      pass(answer, res);
    },
    /** On to the server; resolves to its whole answer `{ status, headers, body }`, not sent on. */
    async fetch() {
      const answer = await send(seen);
      return { status: answer.statusCode, headers: answer.headers, body: await readBody(answer) };
    },
    /** An answer of the test's own instead of the server's. */
    fulfill({ status = 200, contentType = "text/plain", body = "" }) {
      res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), ...hop() });
      res.end(body);
    },
    /** The connection closes with no answer (as a reset or a dead network would). */
    abort() {
      res.socket?.destroy();
    },
  });

  const onRequest = async (req, res) => {
    const path = req.url.split("?")[0];
    const seen = { method: req.method, url: req.url, path, headers: req.headers, cut: state.cut, at: Date.now() };
    requests.push(seen);
    if (state.cut) {
      // Unreachable: the request is read (and noted), never answered, and the connection closed.
      req.socket.destroy();
      return;
    }
    try {
      seen.body = await readBody(req);
      const route = routes.find((r) => r.path === path);
      const handle = routeFor(seen, res);
      if (route) await route.handler(handle);
      else await handle.continue();
    } catch {
      // The server went away or the page did: the page sees its connection close.
      req.socket.destroy();
    }
  };

  const listen = () => new Promise((resolve, reject) => {
    const server = createServer({ keepAliveTimeout: 60_000 }, onRequest);
    server.on("connection", (socket) => {
      state.connections += 1;
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    server.once("error", reject);
    server.listen(state.port, "127.0.0.1", () => {
      state.port = server.address().port;
      state.server = server;
      resolve();
    });
  });

  const closeAll = () => {
    for (const socket of sockets) socket.destroy();
    for (const upstream of upstreams) upstream.destroy();
    sockets.clear();
    upstreams.clear();
  };

  await listen();
  return {
    url: `http://127.0.0.1:${state.port}`,
    get isCut() {
      return state.cut;
    },
    get connections() {
      return state.connections;
    },
    /** Every request seen: `{ method, url, path, headers, body, cut, at }` (`cut`: made while cut). */
    requests,
    /** The server becomes unreachable: open connections close, new ones get no answer. */
    cut() {
      state.cut = true;
      closeAll();
    },
    /** The server is reachable again, at the same address. */
    async restore() {
      state.cut = false;
    },
    /**
     * Requests for `path` (no query) go to `handler(route)` instead: `route.request` (method,
     * headers, body) and one of `route.continue()`, `route.fetch()` then `route.fulfill(...)` or
     * `route.abort()`, as with Playwright's `page.route`. The latest route for a path wins.
     */
    route(path, handler) {
      routes.unshift({ path, handler });
      // Connections kept alive from before would be reused: see `hop`.
      state.server.closeIdleConnections();
    },
    /** Drops the routes for `path`, or every route. */
    unroute(path) {
      for (let i = routes.length - 1; i >= 0; i -= 1) if (path === undefined || routes[i].path === path) routes.splice(i, 1);
    },
    async close() {
      state.cut = true;
      closeAll();
      agent.destroy();
      await new Promise((resolve) => state.server.close(resolve));
    },
  };
}
