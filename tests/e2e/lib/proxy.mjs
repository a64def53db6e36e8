// "Offline" the same way in every engine: a TCP proxy in front of the server that the test cuts
// and restores. Cut, the server is unreachable as after a crash: every open connection (the
// event stream too) is closed, and each new one is closed as soon as its request arrives,
// unanswered, until `restore()`. `navigator.onLine` stays true, as it does when only the server
// is gone. The proxy notes the request lines it sees (`requests`), so a test can count what the
// page asked for in any engine.
//
// Connections are closed with `destroy()`, not `resetAndDestroy()`: a reset of a socket with a
// pending shutdown (one side had ended) leaves a request libuv never completes, and Node then
// spins forever at exit (seen with WebKit runs: the test file's process never ended).
import { createServer, connect } from "node:net";

/**
 * An HTTP/1.1 request line at the start of a chunk or right after the blank line ending a
 * head (a request sent after a body in the same chunk is not seen: good enough to count
 * GETs such as the event stream's).
 */
const REQUEST_LINE = /(?:^|\r\n\r\n)(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\S+) HTTP\/1\.[01]\r\n/g;

/**
 * Starts a proxy on 127.0.0.1 (a free port, or `port`) to `target` ("http://host:port").
 * Resolves to `{ url, cut(), restore(), isCut, connections, requests, close() }`;
 * `connections` counts every connection the browser opened through it.
 */
export async function startProxy(target, { port = 0 } = {}) {
  const { hostname, port: targetPort } = new URL(target);
  const open = new Set();
  const state = { cut: false, connections: 0, server: null, port };
  const requests = [];
  /** Notes the request lines at the start of `chunk` and after any blank line in it. */
  const note = (chunk, cut) => {
    for (const [, method, path] of chunk.toString("latin1").matchAll(REQUEST_LINE)) {
      requests.push({ method, path: path.split("?")[0], cut, at: Date.now() });
    }
  };

  const onConnection = (client) => {
    state.connections += 1;
    if (state.cut) {
      // Unreachable: the request is read (and noted), never answered, and the connection closed.
      client.once("data", (chunk) => {
        note(chunk, true);
        client.destroy();
      });
      client.on("error", () => client.destroy());
      open.add({ client, upstream: null });
      return;
    }
    client.on("data", (chunk) => note(chunk, false));
    const upstream = connect({ host: hostname, port: Number(targetPort) });
    const pair = { client, upstream };
    open.add(pair);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = () => new Promise((resolve, reject) => {
    const server = createServer(onConnection);
    server.once("error", reject);
    server.listen(state.port, "127.0.0.1", () => {
      state.port = server.address().port;
      state.server = server;
      resolve();
    });
  });

  const closeAll = () => {
    for (const { client, upstream } of open) {
      client.destroy();
      upstream?.destroy();
    }
    open.clear();
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
    /** Every request line seen: `{ method, path, cut, at }` (`cut`: made while cut). */
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
    async close() {
      state.cut = true;
      closeAll();
      await new Promise((resolve) => state.server.close(resolve));
    },
  };
}
