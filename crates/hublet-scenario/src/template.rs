//! `{{name}}` in scenario values: variables, matrix values and captures.
//!
//! A string that is exactly one `{{name}}` takes the variable's JSON value
//! (a number stays a number in a payload); elsewhere the value is written
//! into the text (strings as they are, anything else as JSON).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

/// Variables in scope, by name.
pub type Vars = BTreeMap<String, Value>;

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern, covered by the tests
    Regex::new(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}").unwrap()
});

/// The variable names a text refers to.
pub fn names_in(text: &str) -> impl Iterator<Item = &str> {
    PLACEHOLDER
        .captures_iter(text)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
}

/// Every variable name referred to anywhere in a value.
pub fn names_in_value(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(names_in(s).map(str::to_string)),
        Value::Array(a) => a.iter().for_each(|x| names_in_value(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.extend(names_in(k).map(str::to_string));
            names_in_value(x, out)
        }),
        _ => {}
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Fills in a text.
pub fn render(text: &str, vars: &Vars) -> Result<String, String> {
    let mut missing = None;
    let out = PLACEHOLDER.replace_all(text, |c: &regex::Captures<'_>| {
        let name = c.get(1).map(|m| m.as_str()).unwrap_or_default();
        match vars.get(name) {
            Some(v) => text_of(v),
            None => {
                missing.get_or_insert_with(|| name.to_string());
                String::new()
            }
        }
    });
    match missing {
        Some(name) => Err(format!("no variable '{name}' (in \"{text}\")")),
        None => Ok(out.into_owned()),
    }
}

/// Fills in an optional text.
pub fn render_opt(text: &Option<String>, vars: &Vars) -> Result<Option<String>, String> {
    text.as_deref().map(|t| render(t, vars)).transpose()
}

/// Fills in every string (and key) in a JSON value.
pub fn render_value(v: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            let whole = PLACEHOLDER
                .captures(s)
                .filter(|c| c.get(0).is_some_and(|m| m.as_str().len() == s.len()));
            match whole.and_then(|c| c.get(1)).map(|m| m.as_str()) {
                Some(name) => vars
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("no variable '{name}' (in \"{s}\")"))?,
                None => Value::String(render(s, vars)?),
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_value(x, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((render(k, vars)?, render_value(x, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Fills in a step's fields: a string that is exactly one `{{name}}` keeps
/// the variable's type only under the keys in `typed` (JSON-valued fields:
/// payloads, bodies, comparisons, variables); everywhere else a value is
/// written as text, so a device id, a property value or a name stays text.
pub fn render_fields(v: &Value, vars: &Vars, typed: &[&str]) -> Result<Value, String> {
    fn go(v: &Value, vars: &Vars, keys: &[&str], typed: bool) -> Result<Value, String> {
        Ok(match v {
            Value::String(_) if typed => render_value(v, vars)?,
            Value::String(s) => Value::String(render(s, vars)?),
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| go(x, vars, keys, typed))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| {
                        Ok((
                            render(k, vars)?,
                            go(x, vars, keys, typed || keys.contains(&k.as_str()))?,
                        ))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
    go(v, vars, typed, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.insert("device".into(), json!("thermostat-1"));
        v.insert("n".into(), json!(3));
        v
    }

    #[test]
    fn text_and_whole_values() {
        assert_eq!(
            render("to {{device}} x{{ n }}", &vars()),
            Ok("to thermostat-1 x3".into())
        );
        assert_eq!(
            render_value(&json!({"count": "{{n}}", "at": "{{device}}/a"}), &vars()),
            Ok(json!({"count": 3, "at": "thermostat-1/a"}))
        );
        assert!(
            render("{{nope}}", &vars())
                .unwrap_err()
                .contains("no variable 'nope'")
        );
        assert_eq!(
            render("{ not a template }", &vars()),
            Ok("{ not a template }".into())
        );
    }

    #[test]
    fn only_json_fields_keep_a_variables_type() {
        let v = json!({"device": "{{n}}", "properties": {"seq": "{{n}}"}, "payload": {"count": "{{n}}"}});
        assert_eq!(
            render_fields(&v, &vars(), &["payload"]),
            Ok(json!({"device": "3", "properties": {"seq": "3"}, "payload": {"count": 3}}))
        );
    }

    #[test]
    fn names_are_found_everywhere() {
        let mut out = Vec::new();
        names_in_value(&json!({"{{k}}": ["{{a}}", {"b": "x {{b}}"}]}), &mut out);
        assert_eq!(out, vec!["k", "a", "b"]);
    }
}
