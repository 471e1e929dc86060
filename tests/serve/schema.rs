//! A small checker of JSON values against the OpenAPI document's schemas (the subset utoipa
//! writes: `$ref`, `type` (one or a list), `required`, `properties`, `items`, `enum`,
//! `oneOf`/`anyOf`/`allOf`), to hold live answers to the document.

use serde_json::Value;

/// Checks `value` against `schema`, resolving `$ref`s in `doc`; the first mismatch, with its
/// JSON path.
pub fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: unresolved {reference}"));
        }
        return validate(doc, target, value, at);
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            validate(doc, s, value, at)?;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array()
            && !options.iter().any(|s| validate(doc, s, value, at).is_ok())
        {
            return Err(format!("{at}: {value} matches none of {key} {schema}"));
        }
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {values:?}"));
    }
    check_type(schema, value, at)?;
    if let Some(required) = schema["required"].as_array() {
        for field in required.iter().filter_map(Value::as_str) {
            if value.get(field).is_none() {
                return Err(format!("{at}: required field {field} missing in {value}"));
            }
        }
    }
    if let (Some(properties), Some(object)) = (schema["properties"].as_object(), value.as_object())
    {
        for (name, sub) in properties {
            if let Some(v) = object.get(name) {
                validate(doc, sub, v, &format!("{at}.{name}"))?;
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            validate(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn check_type(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let ok = types.iter().any(|t| match *t {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    });
    if ok {
        Ok(())
    } else {
        Err(format!("{at}: {value} is not of type {types:?}"))
    }
}

/// Checks a live answer against the document: the schema of `status` of `method path`.
pub fn check_response(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} answered {status}, which the document does not list"
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status}: no JSON schema"
    );
    if let Err(e) = validate(doc, schema, body, "$") {
        panic!("{method} {path} {status} does not match the document: {e}");
    }
}
