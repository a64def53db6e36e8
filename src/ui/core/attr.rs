//! Attributes set by name.
//!
//! With `erase_components`, every attribute of an element that is not all static becomes an
//! `AnyAttribute`, whose code is made once per attribute type, and a typed attribute's type
//! is its key's: `placeholder="…"` and `inputmode="…"` are two types, each about 0.4 KB of
//! the module. Set by name, all of them with a value of one type share one: 1.9 KB less
//! brotli in the first load for the app's 100 such attributes. A reactive value (a closure)
//! stays a typed attribute: it is its own type either way, and the view macro shares its
//! code with the other closures of its output type.

use leptos::tachys::html::attribute::AttributeValue;
use leptos::tachys::html::attribute::custom::{CustomAttr, custom_attribute};

/// The attribute `name="value"`, for a value that does not change: a `&'static str` or a
/// `String`.
pub fn attr<V: AttributeValue>(name: &'static str, value: V) -> CustomAttr<&'static str, V> {
    custom_attribute(name, value)
}
