//! Attributes set by name.
//!
//! With `erase_components`, every attribute of an element that is not all static becomes an
//! `AnyAttribute`, whose code is made once per attribute type, and a typed attribute's type
//! is its key's: `placeholder="…"` and `inputmode="…"` are two types, each about 0.4 KB of
//! the module. Set by name, all of them with a value of one type share one: 2.0 KB less
//! brotli in the first load for the app's 100 such attributes. A reactive value (a closure)
//! stays a typed attribute: it is its own type either way, and the view macro shares its
//! code with the other closures of its output type.
//!
//! An element whose attributes and children are all static is rendered from one HTML string
//! instead; one attribute set by name makes it built like the others. Measured both ways: six
//! such headings and paragraphs cost 0.4 KB less with their `id`s and roles set by name, and
//! the labels 0.1 KB more with their `for`, which they keep as written.

use leptos::tachys::html::attribute::AttributeValue;
use leptos::tachys::html::attribute::custom::{CustomAttr, custom_attribute};

/// The attribute `name="value"`, for a value that does not change: a `&'static str` or a
/// `String`.
pub fn attr<V: AttributeValue>(name: &'static str, value: V) -> CustomAttr<&'static str, V> {
    custom_attribute(name, value)
}
