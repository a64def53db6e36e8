//! Which tabs hold typing not saved yet. A tab whose form holds unsaved typing (or a save under
//! way) holds a shared Web Lock named for the account until it is saved or dropped; the browser
//! releases it too when the tab closes or crashes, so nothing stale is left behind. A tab about
//! to sign out, or to sign in as someone else, asks how many tabs hold it: the other tabs'
//! typing would be lost too, and only this way can the warning say so.
//!
//! Where the Web Locks API is missing, nothing is held and nobody is counted: the warnings then
//! speak of this tab alone, as they did before.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

/// The start of every typing lock's name.
const LOCK_PREFIX: &str = "outpost-typing:";

/// The lock's name for `account` (not shared with the service worker, which never types).
fn lock_name(account: &str) -> String {
    format!("{LOCK_PREFIX}{account}")
}

/// `navigator.locks`, where the browser has it (through `Reflect`: web-sys gives its lock
/// requests only behind `web_sys_unstable_apis`).
fn locks() -> Option<wasm_bindgen::JsValue> {
    let navigator = web_sys::window()?.navigator();
    js_sys::Reflect::get(&navigator, &"locks".into())
        .ok()
        .filter(|locks| locks.is_object())
}

/// `locks.method(args...)`, if it is a function that did not throw.
fn call(
    locks: &wasm_bindgen::JsValue,
    method: &str,
    args: &js_sys::Array,
) -> Option<wasm_bindgen::JsValue> {
    js_sys::Reflect::get(locks, &method.into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?
        .apply(locks, args)
        .ok()
}

/// This tab holds typing not saved yet for an account while this lives.
pub struct TypingMark {
    /// Resolves the promise the lock is held by: the lock goes.
    release: js_sys::Function,
}

impl TypingMark {
    /// Marks this tab as holding unsaved typing for `account` (`None` without Web Locks).
    pub fn hold(account: &str) -> Option<Self> {
        let locks = locks()?;
        let mut release = None;
        let held = js_sys::Promise::new(&mut |resolve, _| release = Some(resolve));
        let release = release?;
        // Granted at once (every holder shares it); held until `held` settles.
        let callback = Closure::once_into_js(move |_lock: wasm_bindgen::JsValue| held);
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"mode".into(), &"shared".into()).ok()?;
        let name = wasm_bindgen::JsValue::from_str(&lock_name(account));
        call(
            &locks,
            "request",
            &js_sys::Array::of3(&name, &options, &callback),
        )?;
        Some(Self { release })
    }
}

impl Drop for TypingMark {
    fn drop(&mut self) {
        let _ = self.release.call0(&wasm_bindgen::JsValue::UNDEFINED);
    }
}

/// How many tabs hold unsaved typing for `account` now, this one included if it does.
pub async fn tabs_typing(account: &str) -> usize {
    let name = lock_name(account);
    count_held(|held| held == name).await
}

/// How many tabs hold unsaved typing now, for any account, this one included if it does.
pub async fn tabs_typing_any() -> usize {
    count_held(|held| held.starts_with(LOCK_PREFIX)).await
}

/// How many locks held now have a name `wanted` takes.
async fn count_held(wanted: impl Fn(&str) -> bool) -> usize {
    let Some(locks) = locks() else {
        return 0;
    };
    let Some(query) = call(&locks, "query", &js_sys::Array::new())
        .and_then(|promise| promise.dyn_into::<js_sys::Promise>().ok())
    else {
        return 0;
    };
    let Ok(snapshot) = wasm_bindgen_futures::JsFuture::from(query).await else {
        return 0;
    };
    js_sys::Reflect::get(&snapshot, &"held".into())
        .ok()
        .and_then(|held| held.dyn_into::<js_sys::Array>().ok())
        .map_or(0, |held| {
            held.iter()
                .filter(|lock| {
                    js_sys::Reflect::get(lock, &"name".into())
                        .ok()
                        .and_then(|n| n.as_string())
                        .is_some_and(|n| wanted(&n))
                })
                .count()
        })
}
