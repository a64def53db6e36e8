//! Entry point of the browser app: panic hook, then mount. Nothing else lives here, so that
//! the browser tests in `tests/` can mount the same app through the library.

fn main() {
    console_error_panic_hook::set_once();
    outpost::start();
}
