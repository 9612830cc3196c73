//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the code. The schemas are
//! the core's `ToSchema` derives (feature `openapi`), which carry every limit of
//! `protocol::limits`; paths, headers and codes come from `core::protocol`; each operation
//! lists the statuses its checks answer with, and which codes each status carries.
//! `tests/schemathesis` holds the server to it.

mod examples;
mod operations;

use credit_sync::protocol::{
    headers, schema, BalanceResponse, BatchData, BatchItem, BatchRequest, CaptureRequest, Code,
    Envelope, HoldData, HoldRequest, HoldsResponse, RecordsResponse, RegisterUserRequest,
    ReverseData, ReverseRequest, SyncData, SyncRequest, TransferData, TransferRequest, UserData,
    VoidRequest,
};
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr,
};
use utoipa::{PartialSchema, ToSchema};

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(build()).expect("the OpenAPI document serializes");
        finish_responses(&mut doc);
        finish_schemas(&mut doc);
        doc
    })
}

const API_KEY_SCHEME: &str = "api_key";
const SIGNATURE_SCHEME: &str = "v2_signature";

/// The envelope every write and every error shares (`data` is the write's payload).
const ENVELOPE: &str = "Envelope";
const ERROR: &str = "ErrorResponse";

pub(super) fn component(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn build() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for op in operations::operations() {
        let (path, method, operation) = operations::operation(op);
        paths = paths.path(path, PathItem::new(method, operation));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Credit Sync API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Cross-project credit sync for Telegram bots. The written contract is docs/protocol.md.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components()))
        .build()
}

fn components() -> utoipa::openapi::Components {
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                headers::API_KEY,
                "Identifies the source (bot). Required on every API request.",
            ))),
        )
        .security_scheme(
            SIGNATURE_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                headers::SIGNATURE,
                "v2: `t=<unix seconds>,v2=<hex HMAC-SHA256 of \"{t}\\n{METHOD}\\n{path?query}\\n{hex sha256(body)}\">` \
                 with the source's secret (docs/protocol.md, \"v2 signature\"). Required on reads. \
                 A write may carry the guide's v1 `token` and `timestamp` in its body instead, \
                 where the source's `signatures` setting allows v1.",
            ))),
        );
    let mut named: Vec<(String, RefOr<Schema>)> = Vec::new();
    register::<SyncRequest>(&mut named);
    register::<BatchRequest>(&mut named);
    register::<BatchItem>(&mut named);
    named.push((schema::BATCH_ITEM_SHAPE.into(), schema::batch_item_shape()));
    register::<RegisterUserRequest>(&mut named);
    register::<SyncData>(&mut named);
    register::<BatchData>(&mut named);
    register::<UserData>(&mut named);
    register::<BalanceResponse>(&mut named);
    register::<RecordsResponse>(&mut named);
    register::<credit_sync::protocol::EventsResponse>(&mut named);
    register::<HoldRequest>(&mut named);
    register::<CaptureRequest>(&mut named);
    register::<VoidRequest>(&mut named);
    register::<ReverseRequest>(&mut named);
    register::<TransferRequest>(&mut named);
    register::<HoldData>(&mut named);
    register::<HoldsResponse>(&mut named);
    register::<ReverseData>(&mut named);
    register::<TransferData>(&mut named);
    // `data` of the plain envelope: any value but `null` (which its `oneOf` lists apart).
    named.push((
        Value::name().into(),
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([
                Type::Object,
                Type::Array,
                Type::String,
                Type::Number,
                Type::Boolean,
            ]))
            .into(),
    ));
    // The envelope's instances, by what they answer.
    named.push(("SyncResponse".into(), Envelope::<SyncData>::schema()));
    named.push(("BatchResponse".into(), Envelope::<BatchData>::schema()));
    named.push(("UserResponse".into(), Envelope::<UserData>::schema()));
    named.push(("HoldResponse".into(), Envelope::<HoldData>::schema()));
    named.push(("ReverseResponse".into(), Envelope::<ReverseData>::schema()));
    named.push((
        "TransferResponse".into(),
        Envelope::<TransferData>::schema(),
    ));
    named.push((ENVELOPE.into(), Envelope::<Value>::schema()));
    named.push((ERROR.into(), error_schema()));
    for (name, schema) in named {
        components = components.schema(name, schema);
    }
    components.build()
}

/// `T` under its name, and the schemas it refers to.
fn register<T: ToSchema>(named: &mut Vec<(String, RefOr<Schema>)>) {
    named.push((T::name().into(), T::schema()));
    T::schemas(named);
}

/// An error: the envelope with `success: false`, no `data` (but the hold's final state on
/// `hold_resolved`), and the server's clock.
fn error_schema() -> RefOr<Schema> {
    AllOfBuilder::new()
        .item(component(ENVELOPE))
        .item(
            ObjectBuilder::new()
                .property(
                    "success",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .enum_values(Some([false])),
                )
                .property(
                    "data",
                    utoipa::openapi::schema::OneOfBuilder::new()
                        .item(ObjectBuilder::new().schema_type(Type::Null))
                        .item(component(&HoldData::name())),
                )
                .required("server_time"),
        )
        .description(Some(
            "An error: `code` says which (docs/protocol.md); `field` names the bad input, \
             `fields` the differences of a `reference_conflict`, `balance` the balance of an \
             `insufficient_credits`.",
        ))
        .into()
}

/// What a struct's fields cannot say one by one: the rules across fields of a body.
fn finish_schemas(doc: &mut Value) {
    let reverse = &mut doc["components"]["schemas"][ReverseRequest::name().as_ref()];
    if let (Some(reverse), Value::Object(rule)) =
        (reverse.as_object_mut(), schema::reverse_target_rule())
    {
        reverse.extend(rule);
    }
}

/// What utoipa 5 cannot say: a response header's `required` (its `Header` has no such
/// field), and a link's `operationId` (its `Link` serializes as `operation_id`).
fn finish_responses(doc: &mut Value) {
    let responses = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(Value::as_object_mut))
        .flat_map(|responses| responses.iter_mut());
    for (status, response) in responses {
        let always = [
            Some(headers::REQUEST_ID),
            (status == &Code::RateLimited.http_status().to_string())
                .then_some(headers::RETRY_AFTER),
        ];
        for name in always.into_iter().flatten() {
            if let Some(header) = response
                .get_mut("headers")
                .and_then(|headers| headers.get_mut(name))
            {
                header["required"] = json!(true);
            }
        }
        let links = response
            .get_mut("links")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|links| links.values_mut())
            .filter_map(Value::as_object_mut);
        for link in links {
            if let Some(id) = link.remove("operation_id") {
                link.insert("operationId".into(), id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credit_sync::protocol::{fields, limits, paths};

    fn doc() -> &'static Value {
        document()
    }

    #[test]
    fn the_document_names_every_path_and_schema() {
        let doc = doc();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [paths::SYNC, paths::BATCH, paths::USERS, paths::HEALTHZ] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
        let sync = &doc["components"]["schemas"]["SyncRequest"];
        let mut required: Vec<&str> = sync["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort();
        assert_eq!(required, ["amount", "reason", "source", "telegram_id"]);
        assert!(doc["components"]["schemas"]["Code"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("insufficient_credits")));
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        out.push(target);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        refs(doc(), &mut found);
        assert!(!found.is_empty());
        for target in found {
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(
                doc()["components"]["schemas"][name].is_object(),
                "{target} is not in the document"
            );
        }
    }

    #[test]
    fn every_limit_reaches_the_document() {
        let schemas = &doc()["components"]["schemas"];
        let sync = &schemas["SyncRequest"]["properties"];
        assert_eq!(sync["telegram_id"]["minimum"], json!(1));
        let ranges = sync["amount"]["oneOf"].as_array().unwrap();
        assert_eq!(ranges[0]["minimum"], json!(-limits::DEFAULT_MAX_AMOUNT));
        assert_eq!(ranges[0]["maximum"], json!(-1));
        assert_eq!(ranges[1]["minimum"], json!(1));
        assert_eq!(ranges[1]["maximum"], json!(limits::DEFAULT_MAX_AMOUNT));
        assert_eq!(sync["reason"]["maxLength"], json!(limits::MAX_REASON_CHARS));
        let reference = &sync["external_reference"];
        assert_eq!(reference["minLength"], json!(1));
        assert_eq!(reference["maxLength"], json!(limits::MAX_REFERENCE_CHARS));
        assert!(reference["pattern"].as_str().unwrap().starts_with("^["));
        let items = &schemas["BatchRequest"]["properties"]["items"];
        assert_eq!(items["minItems"], json!(1));
        assert_eq!(items["maxItems"], json!(limits::MAX_BATCH_ITEMS));
        let user = &schemas["RegisterUserRequest"]["properties"];
        assert_eq!(
            user["nickname"]["maxLength"],
            json!(limits::MAX_NICKNAME_CHARS)
        );
        let records = &doc()["paths"][format!("{}/{{telegram_id}}", paths::RECORDS)]["get"];
        let limit = records["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == fields::LIMIT)
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], json!(limits::MAX_RECORDS_LIMIT));
    }

    #[test]
    fn each_status_lists_its_codes_and_reads_require_both_schemes() {
        let sync = &doc()["paths"][paths::SYNC]["post"];
        let codes_of = |status: &str| {
            sync["responses"][status]["content"]["application/json"]["schema"]["allOf"][1]
                ["properties"]["code"]["enum"]
                .clone()
        };
        assert_eq!(
            codes_of("409"),
            json!(["insufficient_credits", "reference_conflict"])
        );
        assert!(codes_of("401")
            .as_array()
            .unwrap()
            .contains(&json!("signature_reused")));
        assert_eq!(codes_of("413"), json!(["payload_too_large"]));
        assert_eq!(
            sync["security"],
            json!([{API_KEY_SCHEME: [], SIGNATURE_SCHEME: []}])
        );
        assert_eq!(
            sync["responses"]["429"]["headers"][headers::RETRY_AFTER]["required"],
            json!(true)
        );
        assert_eq!(
            sync["responses"]["200"]["links"]["balance"]["operationId"],
            json!("balance")
        );
        let health = &doc()["paths"][paths::HEALTHZ]["get"];
        assert!(health.get("security").is_none());
    }

    /// The pattern of a property of a request schema, anchored as JSON Schema reads it.
    fn pattern(schema: &str, property: &str) -> regex::Regex {
        let text = doc()["components"]["schemas"][schema]["properties"][property]["pattern"]
            .as_str()
            .unwrap();
        regex::Regex::new(text).unwrap()
    }

    #[test]
    fn the_patterns_accept_what_the_validators_accept() {
        use credit_sync::protocol::{
            is_reference_char, limits, validate_reason, validate_reference,
        };
        let reference = pattern("SyncRequest", "external_reference");
        let reason = pattern("SyncRequest", "reason");
        for c in (0..=0x2FFF).filter_map(char::from_u32) {
            let one = c.to_string();
            assert_eq!(reference.is_match(&one), is_reference_char(c), "{c:?}");
            assert_eq!(
                reason.is_match(&one),
                validate_reason(&one).is_ok(),
                "{c:?}"
            );
        }
        let longest = "a".repeat(limits::MAX_REFERENCE_CHARS);
        assert!(reference.is_match(&longest) && validate_reference(&longest).is_ok());
    }

    #[test]
    fn the_cursor_pattern_is_the_issued_cursors() {
        let records = &doc()["paths"][format!("{}/{{telegram_id}}", paths::RECORDS)]["get"];
        let cursor = records["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == fields::CURSOR)
            .unwrap();
        let pattern = regex::Regex::new(cursor["schema"]["pattern"].as_str().unwrap()).unwrap();
        let issued = |text: &str| {
            crate::ledger::decode_cursor(text)
                .is_some_and(|id| crate::ledger::encode_cursor(id) == text)
        };
        for id in [
            1,
            9,
            10,
            42,
            0xfff_ffff_ffff_ffff,
            0x1000_0000_0000_0000,
            i64::MAX,
        ] {
            let text = crate::ledger::encode_cursor(id);
            assert!(pattern.is_match(&text) && issued(&text), "{text}");
        }
        for text in [
            "r0",
            "r01",
            "rA",
            "R1",
            "r+1",
            "r-1",
            "r",
            "r8000000000000000",
            "r10000000000000000",
            "1",
            "r1 ",
            "x1",
        ] {
            assert!(!pattern.is_match(text) && !issued(text), "{text}");
        }
        assert!(pattern.is_match(""), "empty: the first page");
    }
}
