//! Entry point of the browser app: panic hook, logging, mount. Nothing else lives here.
fn main() {}
