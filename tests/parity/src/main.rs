//! The Rust half of the five-way method parity test: reads `core/src/client.rs` and
//! `core/src/blocking.rs` with `syn` and prints every public method of their `Client`
//! as JSON, so the test compares the real source, not a list someone keeps by hand.
//!
//! Usage: `rust-surface [CORE_SRC_DIR]` (default: the workspace's `core/src`).

use quote::ToTokens;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn main() {
    let dir = std::env::args_os().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../core/src"),
        PathBuf::from,
    );
    let surface = json!({
        "rust_async": methods(&dir.join("client.rs")),
        "rust_blocking": methods(&dir.join("blocking.rs")),
    });
    println!("{surface:#}");
}

/// The public methods of `impl Client` (inherent impls only) in `file`, by name.
fn methods(file: &Path) -> Value {
    let text =
        std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", file.display()));
    let mut out = serde_json::Map::new();
    for item in ast.items {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() || !is_client(&imp.self_ty) {
            continue;
        }
        for it in imp.items {
            let syn::ImplItem::Fn(f) = it else { continue };
            if !matches!(f.vis, syn::Visibility::Public(_)) {
                continue;
            }
            let mut receiver = false;
            let mut params = Vec::new();
            for input in &f.sig.inputs {
                match input {
                    syn::FnArg::Receiver(_) => receiver = true,
                    syn::FnArg::Typed(p) => params.push(json!({
                        "name": p.pat.to_token_stream().to_string(),
                        "type": p.ty.to_token_stream().to_string(),
                        "option": is_option(&p.ty),
                    })),
                }
            }
            let returns = match &f.sig.output {
                syn::ReturnType::Default => String::new(),
                syn::ReturnType::Type(_, t) => t.to_token_stream().to_string(),
            };
            out.insert(
                f.sig.ident.to_string(),
                json!({
                    "async": f.sig.asyncness.is_some(),
                    "receiver": receiver,
                    "params": params,
                    "returns": returns,
                    "doc": doc(&f.attrs),
                }),
            );
        }
    }
    Value::Object(out)
}

fn is_client(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Client"))
}

fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// The `///` lines of a method, joined: where a Rust method states its defaults.
fn doc(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}
