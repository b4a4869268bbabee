//! Checks on JSON documents: subset match, JSONPath comparisons, regular
//! expressions. Each failure says where, what was expected and what was there.

use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::format::{Matcher, PathCheck};

/// Why a document did not match.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// What was expected (one line).
    pub expected: String,
    /// What was there.
    pub actual: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {}, got {}", self.expected, self.actual)
    }
}

/// Checks that a matcher's regular expressions and paths are well formed
/// (before anything runs).
pub fn check_syntax(m: &Matcher) -> Result<(), String> {
    if let Some(r) = &m.matches {
        regex(r)?;
    }
    for p in &m.paths {
        path(&p.path)?;
        if let Some(r) = &p.matches {
            regex(r)?;
        }
    }
    Ok(())
}

/// Compiles a regular expression with an error a user can act on.
pub fn regex(r: &str) -> Result<Regex, String> {
    Regex::new(r).map_err(|e| format!("'{r}' is not a regular expression: {e}"))
}

/// Parses a JSONPath with an error a user can act on.
pub fn path(p: &str) -> Result<JsonPath, String> {
    JsonPath::parse(p).map_err(|e| format!("'{p}' is not a JSONPath: {e}"))
}

/// The value a JSONPath selects (the first, when it selects several).
pub fn select(doc: &Value, p: &str) -> Result<Option<Value>, String> {
    Ok(path(p)?.query(doc).all().first().map(|v| (*v).clone()))
}

/// The text a regular expression is matched against.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks a document against every check of a matcher.
pub fn check(m: &Matcher, doc: &Value) -> Result<(), Mismatch> {
    if let Some(want) = &m.payload {
        subset(want, doc, "$")?;
    }
    for p in &m.paths {
        check_path(p, doc)?;
    }
    if let Some(r) = &m.matches {
        let re = regex(r).map_err(|e| Mismatch {
            expected: e,
            actual: String::new(),
        })?;
        let text = text_of(doc);
        if !re.is_match(&text) {
            return Err(Mismatch {
                expected: format!("text matching /{r}/"),
                actual: short(&text),
            });
        }
    }
    Ok(())
}

/// Cuts long documents in messages.
pub fn short(s: &str) -> String {
    const MAX: usize = 300;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// Numbers compare by value (21 equals 21.0); everything else exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

/// `want` is contained in `got`: tables key by key (extra keys allowed),
/// arrays element by element (same length), scalars equal.
pub fn subset(want: &Value, got: &Value, at: &str) -> Result<(), Mismatch> {
    let fail = || Mismatch {
        expected: format!("{at} = {}", short(&want.to_string())),
        actual: short(&got.to_string()),
    };
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let here = format!("{at}.{k}");
                match g.get(k) {
                    Some(gv) => subset(wv, gv, &here)?,
                    None => {
                        return Err(Mismatch {
                            expected: format!("{here} = {}", short(&wv.to_string())),
                            actual: format!("no '{k}' in {}", short(&got.to_string())),
                        });
                    }
                }
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                subset(wv, gv, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        (w, g) if same(w, g) => Ok(()),
        _ => Err(fail()),
    }
}

fn check_path(p: &PathCheck, doc: &Value) -> Result<(), Mismatch> {
    let found = select(doc, &p.path).map_err(|e| Mismatch {
        expected: e,
        actual: String::new(),
    })?;
    let at = &p.path;
    let shown = |v: &Option<Value>| match v {
        Some(v) => short(&v.to_string()),
        None => "nothing there".to_string(),
    };
    if let Some(want) = p.exists
        && want != found.is_some()
    {
        return Err(Mismatch {
            expected: format!("{at} {}", if want { "to exist" } else { "to be absent" }),
            actual: shown(&found),
        });
    }
    if let Some(eq) = &p.eq
        && !found.as_ref().is_some_and(|v| same(v, eq))
    {
        return Err(Mismatch {
            expected: format!("{at} == {eq}"),
            actual: shown(&found),
        });
    }
    if let Some(ne) = &p.ne
        && found.as_ref().is_some_and(|v| same(v, ne))
    {
        return Err(Mismatch {
            expected: format!("{at} != {ne}"),
            actual: shown(&found),
        });
    }
    let bounds = [
        ("> ", p.gt, (|x, b| x > b) as fn(f64, f64) -> bool),
        (">= ", p.ge, |x, b| x >= b),
        ("< ", p.lt, |x, b| x < b),
        ("<= ", p.le, |x, b| x <= b),
    ];
    for (op, bound, holds) in bounds {
        let Some(b) = bound else { continue };
        let x = found.as_ref().and_then(number);
        if !x.is_some_and(|x| holds(x, b)) {
            return Err(Mismatch {
                expected: format!("{at} {op}{b}"),
                actual: shown(&found),
            });
        }
    }
    if let Some(r) = &p.matches {
        let re = regex(r).map_err(|e| Mismatch {
            expected: e,
            actual: String::new(),
        })?;
        if !found.as_ref().is_some_and(|v| re.is_match(&text_of(v))) {
            return Err(Mismatch {
                expected: format!("{at} matching /{r}/"),
                actual: shown(&found),
            });
        }
    }
    Ok(())
}

/// A number, or a string holding one (simulated devices' templates and
/// many firmwares send numbers as text).
fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(p: PathCheck) -> Matcher {
        Matcher {
            paths: vec![p],
            ..Matcher::default()
        }
    }

    #[test]
    fn subset_allows_extra_keys_and_compares_numbers_by_value() {
        let doc = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": true});
        assert!(subset(&json!({"b": {"c": [1.0, 2]}}), &doc, "$").is_ok());
        let e = subset(&json!({"b": {"d": "y"}}), &doc, "$").unwrap_err();
        assert_eq!(e.expected, "$.b.d = \"y\"");
        assert_eq!(e.actual, "\"x\"");
        let e = subset(&json!({"z": 1}), &doc, "$").unwrap_err();
        assert!(e.actual.starts_with("no 'z' in"), "{e}");
        assert!(subset(&json!({"b": {"c": [1]}}), &doc, "$").is_err());
    }

    #[test]
    fn path_comparisons() {
        let doc = json!({"t": 21.5, "s": "22", "list": [{"v": 3}], "name": "lab-7"});
        let ok = |p: PathCheck| check(&paths(p), &doc);
        let pc = |path: &str| PathCheck {
            path: path.into(),
            ..PathCheck::default()
        };
        assert!(
            ok(PathCheck {
                gt: Some(20.0),
                lt: Some(22.0),
                ..pc("$.t")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                ge: Some(22.0),
                ..pc("$.s")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                eq: Some(json!(3)),
                ..pc("$.list[0].v")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                matches: Some("^lab-\\d+$".into()),
                ..pc("$.name")
            })
            .is_ok()
        );
        assert!(
            ok(PathCheck {
                exists: Some(false),
                ..pc("$.nope")
            })
            .is_ok()
        );
        let e = ok(PathCheck {
            le: Some(20.0),
            ..pc("$.t")
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "expected $.t <= 20, got 21.5");
        let e = ok(PathCheck {
            eq: Some(json!(1)),
            ..pc("$.missing")
        })
        .unwrap_err();
        assert_eq!(e.actual, "nothing there");
        assert!(
            ok(PathCheck {
                ne: Some(json!(21.5)),
                ..pc("$.t")
            })
            .is_err()
        );
    }

    #[test]
    fn regex_on_text_and_bad_syntax_is_caught_first() {
        let m = Matcher {
            matches: Some("^hello".into()),
            ..Matcher::default()
        };
        assert!(check(&m, &json!("hello world")).is_ok());
        assert!(check(&m, &json!("bye")).is_err());
        let bad = Matcher {
            matches: Some("(".into()),
            ..Matcher::default()
        };
        assert!(
            check_syntax(&bad)
                .unwrap_err()
                .contains("not a regular expression")
        );
        assert!(
            check_syntax(&paths(PathCheck {
                path: "temp".into(),
                ..PathCheck::default()
            }))
            .is_err()
        );
    }
}
