//! JSON templates for method replies and telemetry.
//!
//! A template is any JSON value. Strings may hold `{{expr}}` placeholders:
//! a string that is exactly one placeholder becomes the expression's value
//! with its own type (number, object, ...); placeholders inside longer
//! strings are written as text. Expressions:
//!
//! | Expression | Value |
//! |---|---|
//! | `count` | how many times this template has been used by this device (1, 2, ...) |
//! | `device` | the device id |
//! | `method` | the method name (method replies) |
//! | `request`, `request.a.b` | the method request's payload, or a field of it |
//! | `now` | the hub's time, RFC 3339 |
//! | `now_ms` | the hub's time, milliseconds since the Unix epoch |
//! | `uptime` | seconds since the device started |
//! | `random(min, max)` | a uniform number in [min, max) from the device's seeded generator |
//! | `randint(min, max)` | a whole number in [min, max] |
//! | `sine(period_s, amplitude, offset)` | `offset + amplitude * sin(2π * uptime / period)` |
//! | `choice(a, b, …)` | one of the given words |

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::Value;

/// What a template may refer to.
pub struct Context<'a> {
    /// The device id.
    pub device: &'a str,
    /// Times this template has been rendered for the device, this one included.
    pub count: u64,
    /// The method name, for replies.
    pub method: Option<&'a str>,
    /// The request payload, for replies.
    pub request: Option<&'a Value>,
    /// The hub's time in milliseconds.
    pub now_ms: i64,
    /// Seconds since the device started.
    pub uptime_s: f64,
    /// The device's random generator.
    pub rng: &'a mut StdRng,
}

/// A template that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {0}")]
pub struct TemplateError(pub String);

/// Checks every placeholder of a template without rendering it.
pub fn validate(t: &Value) -> Result<(), TemplateError> {
    match t {
        Value::String(s) => {
            for expr in placeholders(s)? {
                parse(expr)?;
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(validate),
        Value::Object(o) => o.values().try_for_each(validate),
        _ => Ok(()),
    }
}

/// Renders a template.
pub fn render(t: &Value, ctx: &mut Context<'_>) -> Value {
    match t {
        Value::String(s) => render_string(s, ctx),
        Value::Array(a) => Value::Array(a.iter().map(|v| render(v, ctx)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), render(v, ctx))).collect())
        }
        other => other.clone(),
    }
}

fn placeholders(s: &str) -> Result<Vec<&str>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError(format!("'{s}' has '{{{{' without '}}}}'")))?;
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    Ok(out)
}

fn render_string(s: &str, ctx: &mut Context<'_>) -> Value {
    let trimmed = s.trim();
    if trimmed.starts_with("{{") && trimmed.ends_with("}}") && trimmed.matches("{{").count() == 1 {
        return eval_str(&trimmed[2..trimmed.len() - 2], ctx);
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Value::String(out);
        };
        match eval_str(&after[..end], ctx) {
            Value::String(v) => out.push_str(&v),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Value::String(out)
}

fn eval_str(expr: &str, ctx: &mut Context<'_>) -> Value {
    match parse(expr.trim()) {
        Ok(e) => eval(&e, ctx),
        Err(e) => Value::String(format!("<{}>", e.0)),
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Var(Vec<String>),
    Call(String, Vec<String>),
}

fn parse(expr: &str) -> Result<Expr, TemplateError> {
    if let Some(open) = expr.find('(') {
        let name = expr[..open].trim();
        let args = expr[open + 1..]
            .strip_suffix(')')
            .ok_or_else(|| TemplateError(format!("'{expr}' misses ')'")))?;
        let args: Vec<String> = args
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        let numeric = |n: usize| -> Result<(), TemplateError> {
            if args.len() != n || args.iter().any(|a| a.parse::<f64>().is_err()) {
                return Err(TemplateError(format!(
                    "{name}() takes {n} numbers: '{expr}'"
                )));
            }
            Ok(())
        };
        match name {
            "random" | "randint" => numeric(2)?,
            "sine" => numeric(3)?,
            "choice" if !args.is_empty() => {}
            _ => {
                return Err(TemplateError(format!(
                    "unknown function '{name}' in '{expr}'"
                )));
            }
        }
        return Ok(Expr::Call(name.to_string(), args));
    }
    let path: Vec<String> = expr.split('.').map(str::to_string).collect();
    match path[0].as_str() {
        "count" | "device" | "method" | "now" | "now_ms" | "uptime" if path.len() == 1 => {
            Ok(Expr::Var(path))
        }
        "request" => Ok(Expr::Var(path)),
        _ => Err(TemplateError(format!("unknown name '{expr}'"))),
    }
}

fn eval(e: &Expr, ctx: &mut Context<'_>) -> Value {
    match e {
        Expr::Var(path) => match path[0].as_str() {
            "count" => ctx.count.into(),
            "device" => ctx.device.into(),
            "method" => ctx.method.unwrap_or_default().into(),
            "now" => hublet_core::Timestamp(ctx.now_ms).to_rfc3339().into(),
            "now_ms" => ctx.now_ms.into(),
            "uptime" => round(ctx.uptime_s).into(),
            _ => {
                let mut v = ctx.request.cloned().unwrap_or(Value::Null);
                for key in &path[1..] {
                    v = v.get(key).cloned().unwrap_or(Value::Null);
                }
                v
            }
        },
        Expr::Call(name, args) => {
            let n = |i: usize| {
                args.get(i)
                    .and_then(|a| a.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            match name.as_str() {
                "random" => {
                    let (lo, hi) = (n(0), n(1));
                    let v = if hi > lo {
                        ctx.rng.random_range(lo..hi)
                    } else {
                        lo
                    };
                    round(v).into()
                }
                "randint" => {
                    let (lo, hi) = (n(0) as i64, n(1) as i64);
                    (if hi >= lo {
                        ctx.rng.random_range(lo..=hi)
                    } else {
                        lo
                    })
                    .into()
                }
                "sine" => {
                    let (period, amp, off) = (n(0), n(1), n(2));
                    let phase = if period > 0.0 {
                        ctx.uptime_s / period
                    } else {
                        0.0
                    };
                    round(off + amp * (2.0 * std::f64::consts::PI * phase).sin()).into()
                }
                _ => {
                    let i = ctx.rng.random_range(0..args.len().max(1));
                    args.get(i).cloned().unwrap_or_default().into()
                }
            }
        }
    }
}

/// Three decimals are plenty for simulated readings and keep traces readable.
fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use serde_json::json;

    use super::*;

    fn ctx<'a>(rng: &'a mut StdRng, request: Option<&'a Value>) -> Context<'a> {
        Context {
            device: "d1",
            count: 7,
            method: Some("set"),
            request,
            now_ms: 1_893_456_000_000,
            uptime_s: 150.0,
            rng,
        }
    }

    #[test]
    fn whole_placeholders_keep_their_type_and_partial_ones_become_text() {
        let mut rng = StdRng::seed_from_u64(1);
        let req = json!({"setpoint": 21.5, "mode": {"name": "eco"}});
        let t = json!({
            "n": "{{count}}", "who": "{{device}}", "got": "{{request.setpoint}}",
            "mode": "{{request.mode.name}}", "all": "{{request}}",
            "text": "call {{count}} of {{method}}", "at": "{{now}}", "missing": "{{request.nope}}"
        });
        let out = render(&t, &mut ctx(&mut rng, Some(&req)));
        assert_eq!(out["n"], 7);
        assert_eq!(out["who"], "d1");
        assert_eq!(out["got"], 21.5);
        assert_eq!(out["mode"], "eco");
        assert_eq!(out["all"], req);
        assert_eq!(out["text"], "call 7 of set");
        assert_eq!(out["at"], "2030-01-01T00:00:00.000Z");
        assert_eq!(out["missing"], Value::Null);
    }

    #[test]
    fn random_values_stay_in_range_and_repeat_with_the_seed() {
        let t = json!({"r": "{{random(10, 20)}}", "i": "{{randint(1, 3)}}", "c": "{{choice(open, closed)}}", "s": "{{sine(600, 2, 21)}}"});
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..50)
                .map(|_| render(&t, &mut ctx(&mut rng, None)))
                .collect::<Vec<_>>()
        };
        let a = run(42);
        assert_eq!(a, run(42), "same seed, same values");
        assert_ne!(a, run(43));
        for v in &a {
            let r = v["r"].as_f64().unwrap();
            assert!((10.0..20.0).contains(&r));
            assert!((1..=3).contains(&v["i"].as_i64().unwrap()));
            assert!(["open", "closed"].contains(&v["c"].as_str().unwrap()));
            assert_eq!(
                v["s"],
                21.0 + 2.0 * (2.0 * std::f64::consts::PI * 0.25).sin()
            );
        }
    }

    #[test]
    fn bad_templates_are_reported() {
        for bad in [
            "{{nope}}",
            "{{random(1)}}",
            "{{sine(a, b, c)}}",
            "{{count",
            "{{launch()}}",
        ] {
            assert!(validate(&json!({"x": bad})).is_err(), "{bad}");
        }
        assert!(validate(&json!({"x": "{{random(0, 1)}} and {{request.a}}"})).is_ok());
    }
}
