//! `fetch` itself, through web-sys: a request (method, URL, headers, an optional body, an
//! abort signal) and the few ways the app reads a response. gloo-net's builder did the same
//! with more than the app used, and cost the first load about 2 KB (docs/BENCHMARKS.md, P1).

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestInit, Response};

/// One request, built then sent once.
pub struct Fetch {
    url: String,
    init: RequestInit,
    headers: Result<Headers, JsValue>,
}

impl Fetch {
    /// A request of `method` (`"GET"`, `"PUT"`...) to `url`.
    pub fn new(method: &str, url: &str) -> Self {
        let init = RequestInit::new();
        init.set_method(method);
        Self {
            url: url.to_owned(),
            init,
            headers: Headers::new(),
        }
    }

    /// Adds a header. A name or value the browser refuses fails the request when sent.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers = self
            .headers
            .and_then(|headers| headers.set(name, value).map(|()| headers));
        self
    }

    /// The body: a string or a `Uint8Array`, say.
    pub fn body(self, body: &JsValue) -> Self {
        self.init.set_body(body);
        self
    }

    /// Neither read from nor written to the browser's HTTP cache: for what the app keeps in
    /// IndexedDB itself, so signing out leaves no copy behind.
    pub fn no_store(self) -> Self {
        self.init.set_cache(web_sys::RequestCache::NoStore);
        self
    }

    /// The signal that aborts the request (and the reading of its body).
    pub fn signal(self, signal: Option<&AbortSignal>) -> Self {
        self.init.set_signal(signal);
        self
    }

    /// Sends it: the response, whatever its status, or the error `fetch` rejected with (no
    /// connection, an abort, a refused header).
    pub async fn send(self) -> Result<Response, JsValue> {
        self.init.set_headers(&self.headers?.into());
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
        let response =
            JsFuture::from(window.fetch_with_str_and_init(&self.url, &self.init)).await?;
        response.dyn_into()
    }
}

/// The response's body as text.
pub async fn text(response: &Response) -> Result<String, JsValue> {
    let text = read(response.text()).await?;
    text.as_string()
        .ok_or_else(|| JsValue::from_str("the body is not text"))
}

/// The response's body as bytes.
pub async fn bytes(response: &Response) -> Result<Vec<u8>, JsValue> {
    let buffer = read(response.array_buffer()).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// A header of the response, if present and readable.
pub fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

async fn read(body: Result<Promise, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(body?).await
}
