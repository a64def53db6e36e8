// Outpost's first paint: the signed-in person's profile header (name, account, a photo link),
// shown from the snapshot the app keeps in localStorage while the WebAssembly app downloads,
// compiles and opens IndexedDB. The build puts it inline at the end of <body>
// (tools/post-build.mjs; the server's policy allows it by hash): it runs as the parser gets
// there, with the stylesheet inline too, so no file holds it back; the app's boot module waits
// for DOMContentLoaded, after it, before it starts the app.
//
// It only shows: no field, no button, nothing to type into, so nothing typed before the app
// mounts can land anywhere and be lost. It writes nothing and decides nothing. The snapshot
// (src/ui/core/first_paint.rs) is kept by the profile page and removed on signing out. The
// app stays hidden behind this view (styles.css) and removes it once it shows a page of its
// own, in one frame, at the same place: the elements, classes and sizes below are the app's
// (src/ui/app.rs, profile_page.rs, profile_photo.rs), so nothing moves.
"use strict";
(() => {
  // Written in at build time from src/data/shared_names.rs (tools/post-build.mjs).
  const KEY = "__OUTPOST_NAME_FIRST_PAINT_KEY__";
  let snapshot;
  try {
    snapshot = JSON.parse(localStorage.getItem(KEY) ?? "null");
  } catch {
    return; // storage turned off, or an unreadable snapshot: the app shows "Opening…"
  }
  if (!snapshot || typeof snapshot.account !== "string" || typeof snapshot.name !== "string") return;
  const { account, name } = snapshot;
  const link = typeof snapshot.photo === "string" && /^https?:\/\//.test(snapshot.photo) ? snapshot.photo : "";

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    node.append(...children);
    return node;
  }

  // A link is shown as the app shows it; an uploaded photo (its bytes are in IndexedDB) as an
  // empty circle until the app shows it; no photo as the name's initial (capitalised by the
  // stylesheet, as the app's).
  // A link that cannot be loaded (offline, and not in the HTTP cache) shows the initial, as the
  // app then does, rather than the browser's broken picture.
  const initial = () => element("div", { class: "avatar placeholder", role: "img", "aria-label": name },
    [...name][0] ?? "?");
  let picture;
  if (link) {
    picture = element("img", { class: "avatar", src: link, alt: "Profile photo", width: "96", height: "96" });
    picture.addEventListener("error", () => picture.replaceWith(initial()), { once: true });
  } else if (snapshot.uploaded) {
    picture = element("div", { class: "avatar", role: "img", "aria-label": "Profile photo" });
  } else {
    picture = initial();
  }
  document.body.prepend(
    element("div", { id: "first-paint", "aria-busy": "true" },
      element("header", { class: "top" },
        element("span", { class: "brand" }, "Outpost"),
        element("div", { class: "status" })),
      element("main", {},
        element("section", { class: "profile", "aria-labelledby": "profile-title" },
          element("div", { class: "identity" },
            picture,
            element("div", {},
              element("h1", { id: "profile-title" }, name),
              element("p", { class: "account" }, `Signed in as ${account}`)))))),
  );
  // For make bench (P2 "painted") and anyone's browser tools.
  performance.mark("outpost-painted");
})();
