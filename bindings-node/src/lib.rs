//! Node.js bindings for the credit-sync core (filled in by the Node issue).
#[napi_derive::napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
