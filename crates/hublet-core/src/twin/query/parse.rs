//! The query text to a [`Query`]. Errors say where the text stopped making
//! sense (line and column), as a 400004.

use pest::Parser as _;
use pest::iterators::Pair;
use pest_derive::Parser;
use serde_json::Value;

use super::MAX_QUERY_CHARS;
use crate::error::{HubError, HubResult};

#[derive(Parser)]
#[grammar = "twin/query/grammar.pest"]
struct Grammar;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `TOP n`.
    pub top: Option<usize>,
    /// `None` for `SELECT *`.
    pub projection: Option<Vec<Item>>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `GROUP BY` paths.
    pub group_by: Vec<Path>,
    /// `FROM devices.modules`: over module twins (else device twins).
    pub modules: bool,
}

/// A path into the twin, by segment.
pub type Path = Vec<String>;

/// One projected column.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// What it shows.
    pub what: Column,
    /// Its name in the row.
    pub name: String,
    /// The name is an `AS` alias (else a path's column takes the key's
    /// spelling in the twin: `DeviceId` shows as `deviceId`).
    pub aliased: bool,
}

/// A projected value.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// A path's value.
    Path(Path),
    /// `COUNT()`, `SUM(p)`, `AVG(p)`, `MIN(p)`, `MAX(p)`.
    Aggregate(Aggregate, Option<Path>),
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `COUNT()`.
    Count,
    /// `SUM(p)`.
    Sum,
    /// `AVG(p)`.
    Avg,
    /// `MIN(p)`.
    Min,
    /// `MAX(p)`.
    Max,
}

/// A condition or a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a OR b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a AND b`.
    And(Box<Expr>, Box<Expr>),
    /// `NOT a`.
    Not(Box<Expr>),
    /// `a = b`, `a < b`, …
    Compare(Operand, Cmp, Operand),
    /// `a IN [..]` (`negated`: `NIN`).
    In(Operand, Vec<Value>, bool),
    /// `IS_DEFINED(p)`, `STARTSWITH(a, b)`, …
    Call(Function, Vec<Operand>),
    /// A lone operand (true only when it is `true`).
    Operand(Operand),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

/// A literal or a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A constant.
    Literal(Value),
    /// A path into the twin.
    Path(Path),
}

/// The functions a condition may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `IS_DEFINED(p)`: present, `null` included.
    IsDefined,
    /// `IS_NULL(p)`.
    IsNull,
    /// `IS_BOOL(p)`.
    IsBool,
    /// `IS_NUMBER(p)`.
    IsNumber,
    /// `IS_STRING(p)`.
    IsString,
    /// `IS_OBJECT(p)`.
    IsObject,
    /// `IS_ARRAY(p)`.
    IsArray,
    /// `IS_PRIMITIVE(p)`.
    IsPrimitive,
    /// `STARTSWITH(s, prefix)`.
    StartsWith,
    /// `ENDSWITH(s, suffix)`.
    EndsWith,
}

impl Function {
    fn named(name: &str) -> Option<(Function, usize)> {
        Some(match name.to_ascii_uppercase().as_str() {
            "IS_DEFINED" => (Function::IsDefined, 1),
            "IS_NULL" => (Function::IsNull, 1),
            "IS_BOOL" => (Function::IsBool, 1),
            "IS_NUMBER" => (Function::IsNumber, 1),
            "IS_STRING" => (Function::IsString, 1),
            "IS_OBJECT" => (Function::IsObject, 1),
            "IS_ARRAY" => (Function::IsArray, 1),
            "IS_PRIMITIVE" => (Function::IsPrimitive, 1),
            "STARTSWITH" => (Function::StartsWith, 2),
            "ENDSWITH" => (Function::EndsWith, 2),
            _ => return None,
        })
    }
}

const INVALID: &str = "The query is invalid. Please check the format of the query and try again.";

fn invalid(detail: String) -> HubError {
    HubError::invalid_field("query", format!("{INVALID} ({detail})"))
}

/// Parses a query (400004 with where and why when it is not one Hublet serves).
pub fn parse(text: &str) -> HubResult<Query> {
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid(format!(
            "it is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let mut pairs = Grammar::parse(Rule::query, text).map_err(|e| {
        let (line, col) = match e.line_col {
            pest::error::LineColLocation::Pos(p) | pest::error::LineColLocation::Span(p, _) => p,
        };
        invalid(format!("unexpected text at line {line}, column {col}"))
    })?;
    let query = pairs.next().ok_or_else(|| invalid("empty".into()))?;
    let mut q = Query {
        top: None,
        projection: None,
        condition: None,
        group_by: Vec::new(),
        modules: false,
    };
    for part in query.into_inner() {
        match part.as_rule() {
            Rule::select => {
                for s in part.into_inner() {
                    match s.as_rule() {
                        Rule::top => {
                            let n = s.into_inner().next().map(|n| n.as_str()).unwrap_or("");
                            q.top = Some(n.parse().map_err(|_| invalid(format!("TOP {n}")))?);
                        }
                        Rule::projection => {
                            q.projection = Some(s.into_inner().map(item).collect::<HubResult<_>>()?)
                        }
                        _ => {}
                    }
                }
            }
            Rule::from => {
                let collection = part
                    .into_inner()
                    .next()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default();
                if collection.eq_ignore_ascii_case("devices.modules") {
                    q.modules = true;
                } else if !collection.eq_ignore_ascii_case("devices") {
                    return Err(invalid(format!(
                        "FROM {collection}: Hublet serves queries over 'devices' and 'devices.modules' (job queries are not served)"
                    )));
                }
            }
            Rule::where_clause => {
                let e = part
                    .into_inner()
                    .next()
                    .ok_or_else(|| invalid("WHERE".into()))?;
                q.condition = Some(expr(e)?);
            }
            Rule::group_by => q.group_by = part.into_inner().map(path).collect(),
            _ => {}
        }
    }
    if !q.group_by.is_empty() && q.projection.is_none() {
        return Err(invalid("GROUP BY needs a projection, not *".into()));
    }
    Ok(q)
}

fn item(p: Pair<'_, Rule>) -> HubResult<Item> {
    let mut inner = p.into_inner();
    let first = inner.next().ok_or_else(|| invalid("projection".into()))?;
    let alias = inner.next().map(|a| a.as_str().to_string());
    let (what, default_name) = match first.as_rule() {
        Rule::aggregate => {
            let mut a = first.into_inner();
            let name = a
                .next()
                .map(|n| n.as_str().to_ascii_uppercase())
                .unwrap_or_default();
            let arg = a.next().map(path);
            let agg = match name.as_str() {
                "COUNT" => Aggregate::Count,
                "SUM" => Aggregate::Sum,
                "AVG" => Aggregate::Avg,
                "MIN" => Aggregate::Min,
                _ => Aggregate::Max,
            };
            if (agg == Aggregate::Count) != arg.is_none() {
                return Err(invalid(format!(
                    "{name}() takes {}",
                    if agg == Aggregate::Count {
                        "no argument"
                    } else {
                        "one path"
                    }
                )));
            }
            (Column::Aggregate(agg, arg), name.to_ascii_lowercase())
        }
        _ => {
            let p = path(first);
            let last = p.last().cloned().unwrap_or_default();
            (Column::Path(p), last)
        }
    };
    Ok(Item {
        what,
        aliased: alias.is_some(),
        name: alias.unwrap_or(default_name),
    })
}

fn path(p: Pair<'_, Rule>) -> Path {
    p.into_inner()
        .map(|seg| {
            let s = seg.into_inner().next();
            match s {
                Some(s) if s.as_rule() == Rule::escaped => s
                    .into_inner()
                    .next()
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default(),
                Some(s) => s.as_str().to_string(),
                None => String::new(),
            }
        })
        .collect()
}

fn expr(p: Pair<'_, Rule>) -> HubResult<Expr> {
    match p.as_rule() {
        Rule::expr | Rule::and_expr => {
            let or = p.as_rule() == Rule::expr;
            let mut it = p
                .into_inner()
                .filter(|x| !matches!(x.as_rule(), Rule::or_op | Rule::and_op));
            let first = it.next().ok_or_else(|| invalid("expression".into()))?;
            let mut acc = expr(first)?;
            for next in it {
                let rhs = expr(next)?;
                acc = if or {
                    Expr::Or(Box::new(acc), Box::new(rhs))
                } else {
                    Expr::And(Box::new(acc), Box::new(rhs))
                };
            }
            Ok(acc)
        }
        Rule::not_expr => {
            let mut it = p.into_inner();
            let first = it.next().ok_or_else(|| invalid("NOT".into()))?;
            if first.as_rule() == Rule::not_op {
                let inner = it.next().ok_or_else(|| invalid("NOT".into()))?;
                Ok(Expr::Not(Box::new(expr(inner)?)))
            } else {
                expr(first)
            }
        }
        Rule::primary => {
            let inner = p
                .into_inner()
                .next()
                .ok_or_else(|| invalid("expression".into()))?;
            expr(inner)
        }
        Rule::function => {
            let mut it = p.into_inner();
            let name = it
                .next()
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            let args: Vec<Operand> = it.map(operand).collect::<HubResult<_>>()?;
            let (f, arity) =
                Function::named(&name).ok_or_else(|| invalid(format!("no function {name}")))?;
            if args.len() != arity {
                return Err(invalid(format!("{name} takes {arity} argument(s)")));
            }
            Ok(Expr::Call(f, args))
        }
        Rule::comparison => {
            let mut it = p.into_inner();
            let lhs = operand(it.next().ok_or_else(|| invalid("comparison".into()))?)?;
            match it.next() {
                None => Ok(Expr::Operand(lhs)),
                Some(op) if op.as_rule() == Rule::cmp_op => {
                    let rhs = operand(it.next().ok_or_else(|| invalid("comparison".into()))?)?;
                    let cmp = match op.as_str() {
                        "=" => Cmp::Eq,
                        "!=" | "<>" => Cmp::Ne,
                        "<" => Cmp::Lt,
                        "<=" => Cmp::Le,
                        ">" => Cmp::Gt,
                        _ => Cmp::Ge,
                    };
                    Ok(Expr::Compare(lhs, cmp, rhs))
                }
                Some(op) => {
                    let negated = op.as_str().eq_ignore_ascii_case("NIN");
                    let list = it.next().ok_or_else(|| invalid("IN".into()))?;
                    let values = list.into_inner().map(literal).collect::<HubResult<_>>()?;
                    Ok(Expr::In(lhs, values, negated))
                }
            }
        }
        other => Err(invalid(format!("{other:?}"))),
    }
}

fn operand(p: Pair<'_, Rule>) -> HubResult<Operand> {
    let inner = p
        .into_inner()
        .next()
        .ok_or_else(|| invalid("operand".into()))?;
    Ok(match inner.as_rule() {
        Rule::literal => Operand::Literal(literal(inner)?),
        _ => Operand::Path(path(inner)),
    })
}

fn literal(p: Pair<'_, Rule>) -> HubResult<Value> {
    let inner = p
        .into_inner()
        .next()
        .ok_or_else(|| invalid("literal".into()))?;
    Ok(match inner.as_rule() {
        Rule::string => {
            let raw = inner.into_inner().next().map(|s| s.as_str()).unwrap_or("");
            Value::String(unescape(raw))
        }
        Rule::number => {
            let s = inner.as_str();
            match s.parse::<i64>() {
                Ok(i) => Value::from(i),
                Err(_) => s
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| invalid(format!("number {s}")))?,
            }
        }
        Rule::boolean => Value::Bool(inner.as_str().eq_ignore_ascii_case("true")),
        _ => Value::Null,
    })
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iot_hubs_documented_queries_parse() {
        for q in [
            "SELECT * FROM devices",
            "select * from devices where tags.location.region = 'US'",
            "SELECT * FROM devices WHERE tags.location.region = 'US' AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60",
            "SELECT * FROM devices WHERE properties.reported.connectivity IN ['wired', 'wifi']",
            "SELECT COUNT() AS numberOfDevices FROM devices",
            "SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices FROM devices GROUP BY properties.reported.telemetryConfig.status",
            "SELECT DeviceId, LastActivityTime FROM devices WHERE status = 'enabled' AND connectionState = 'Disconnected'",
            "SELECT * FROM devices WHERE IS_DEFINED(tags.location) AND NOT STARTSWITH(deviceId, \"test\")",
            "SELECT TOP 5 * FROM devices WHERE tags.[[group]].name = 'x' OR (tags.a != 1 AND tags.b <> 2)",
        ] {
            assert!(parse(q).is_ok(), "{q}: {:?}", parse(q).err());
        }
    }

    #[test]
    fn a_bad_query_says_where() {
        let e = parse("SELECT * FROM devices WHERE = 3").unwrap_err();
        assert!(e.to_string().contains("line 1, column"), "{e}");
        assert_eq!(e.code().number(), 400004);
        assert!(parse("SELECT * FROM devices.jobs").is_err());
        assert!(parse("SELECT * FROM devices.modules").is_ok_and(|q| q.modules));
        assert!(parse("SELECT * FROM devices").is_ok_and(|q| !q.modules));
        assert!(parse("SELECT * FROM devices WHERE STARTS_WITH(deviceId, 'a')").is_err());
        assert!(parse("SELECT * FROM devices GROUP BY status").is_err());
    }

    #[test]
    fn projections_are_named_by_alias_or_last_segment() {
        let q = parse("SELECT deviceId, properties.reported.fw AS firmware, COUNT() FROM devices")
            .unwrap();
        let names: Vec<String> = q.projection.unwrap().into_iter().map(|i| i.name).collect();
        assert_eq!(names, vec!["deviceId", "firmware", "count"]);
    }
}
