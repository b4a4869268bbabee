//! The command library: saved direct-method calls and C2D messages, kept in
//! the hub's data directory as one TOML file (`commands.toml`) that can be
//! exported, imported and shared. A command may hold `{{var}}` templates
//! with default values; it runs on any device from the app, from the CLI
//! (`hublet run NAME --device D --set k=v`) and as a scenario step
//! (`do = "command"`).

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::format::{Invoke, Send, Step};
use crate::template::{self, Vars};

/// The file's name in the data directory.
pub const FILE: &str = "commands.toml";
/// The format version written.
pub const VERSION: u32 = 1;

/// The whole library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Library {
    /// Format version: `1`.
    #[serde(default = "version")]
    pub version: u32,
    /// The commands, by name.
    #[serde(default, rename = "command")]
    pub commands: Vec<Command>,
}

fn version() -> u32 {
    VERSION
}

impl Default for Library {
    fn default() -> Self {
        Library {
            version: VERSION,
            commands: Vec::new(),
        }
    }
}

/// One saved command (`LibraryCommand` in TypeScript). (Its `kind`'s fields sit in the same table, which
/// serde's `deny_unknown_fields` cannot check through `flatten`:
/// [`known_keys`] does.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ts_rs::TS)]
#[ts(export, rename = "LibraryCommand")]
pub struct Command {
    /// Its name: letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// One sentence on what it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub description: Option<String>,
    /// Default values of its `{{var}}`s.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(optional, as = "Option<BTreeMap<String, serde_json::Value>>")]
    pub vars: BTreeMap<String, Value>,
    /// What it does.
    #[serde(flatten)]
    #[ts(flatten)]
    pub action: Action,
}

/// A method call or a C2D message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ts_rs::TS)]
#[ts(export, rename = "LibraryAction")]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// A direct method.
    Method {
        /// Method name.
        method: String,
        /// JSON payload.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        #[ts(optional, as = "Option<serde_json::Value>")]
        payload: Value,
        /// Seconds to wait for the device to connect.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        connect_timeout: Option<u64>,
        /// Seconds to wait for its answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        response_timeout: Option<u64>,
    },
    /// A cloud-to-device message.
    C2d {
        /// The body: text, or a table sent as JSON (absent: empty).
        #[serde(default, skip_serializing_if = "Value::is_null")]
        #[ts(type = "unknown")]
        body: Value,
        /// `text`, `hex` or `base64`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        body_encoding: Option<String>,
        /// Application properties.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        #[ts(optional, as = "Option<BTreeMap<String, String>>")]
        properties: BTreeMap<String, String>,
        /// Feedback wanted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        ack: Option<String>,
        /// Time to live, seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        ttl_secs: Option<u64>,
        /// Content type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        content_type: Option<String>,
        /// Content encoding.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        content_encoding: Option<String>,
        /// Correlation id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        correlation_id: Option<String>,
    },
}

/// Where `v` holds a null.
fn find_nulls(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(at.to_string()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| find_nulls(x, &format!("{at}[{i}]"), out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| find_nulls(x, &format!("{at}.{k}"), out)),
        _ => {}
    }
}

/// The keys a command of `kind` may have.
fn known_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "method" => &[
            "name",
            "description",
            "vars",
            "kind",
            "method",
            "payload",
            "connect_timeout",
            "response_timeout",
        ],
        _ => &[
            "name",
            "description",
            "vars",
            "kind",
            "body",
            "body_encoding",
            "properties",
            "ack",
            "ttl_secs",
            "content_type",
            "content_encoding",
            "correlation_id",
        ],
    }
}

/// A key no command has (a typo), as an error naming it.
fn unknown_key(text: &str) -> Result<(), LibraryError> {
    let Ok(doc) = toml::from_str::<toml::Table>(text) else {
        return Ok(());
    };
    let commands = doc
        .get("command")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    for c in commands.iter().filter_map(|c| c.as_table()) {
        let kind = c.get("kind").and_then(|k| k.as_str()).unwrap_or("c2d");
        let name = c.get("name").and_then(|k| k.as_str()).unwrap_or("?");
        if let Some(k) = c.keys().find(|k| !known_keys(kind).contains(&k.as_str())) {
            return Err(LibraryError(format!(
                "command '{name}': unknown field `{k}`, expected one of {}",
                known_keys(kind).join(", ")
            )));
        }
    }
    Ok(())
}

/// Why a library or a command cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LibraryError(pub String);

impl Command {
    /// Checks its name and templates.
    pub fn check(&self) -> Result<(), LibraryError> {
        let ok = !self.name.is_empty()
            && self.name.len() <= 128
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(LibraryError(format!(
                "command name '{}' must be 1-128 letters, digits, '-', '_' or '.'",
                self.name
            )));
        }
        // TOML has no null: a command holding one could not be saved.
        let mut nulls = Vec::new();
        for (k, v) in &self.vars {
            find_nulls(v, &format!("vars.{k}"), &mut nulls);
        }
        match &self.action {
            Action::Method { payload, .. } if !payload.is_null() => {
                find_nulls(payload, "payload", &mut nulls)
            }
            Action::C2d { body, .. } if !body.is_null() => find_nulls(body, "body", &mut nulls),
            _ => {}
        }
        if let Some(at) = nulls.first() {
            return Err(LibraryError(format!(
                "command '{}': {at} is null, which the library (TOML) cannot keep; leave the key out",
                self.name
            )));
        }
        if let Action::C2d { ack: Some(a), .. } = &self.action
            && !["none", "positive", "negative", "full"].contains(&a.as_str())
        {
            return Err(LibraryError(format!(
                "command '{}': ack '{a}' is not none, positive, negative or full",
                self.name
            )));
        }
        Ok(())
    }

    /// The command on `device` with its variables filled in: from `given`,
    /// then its own defaults (`{{device}}` is the device); a variable with
    /// neither is an error. The result has no variables left.
    pub fn render(&self, device: &str, given: &Vars) -> Result<Command, LibraryError> {
        let mut vars = self.vars.clone();
        vars.extend(given.clone());
        vars.insert("device".into(), Value::String(device.to_string()));
        let err = |e: String| LibraryError(format!("command '{}': {e}", self.name));
        let fill = |v: &Value| template::render_value(v, &vars).map_err(err);
        let text = |t: &String| template::render(t, &vars).map_err(err);
        let opt = |t: &Option<String>| template::render_opt(t, &vars).map_err(err);
        let action = match &self.action {
            Action::Method {
                method,
                payload,
                connect_timeout,
                response_timeout,
            } => Action::Method {
                method: text(method)?,
                payload: fill(payload)?,
                connect_timeout: *connect_timeout,
                response_timeout: *response_timeout,
            },
            Action::C2d {
                body,
                body_encoding,
                properties,
                ack,
                ttl_secs,
                content_type,
                content_encoding,
                correlation_id,
            } => Action::C2d {
                body: fill(body)?,
                body_encoding: body_encoding.clone(),
                properties: properties
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), text(v)?)))
                    .collect::<Result<_, LibraryError>>()?,
                ack: ack.clone(),
                ttl_secs: *ttl_secs,
                content_type: opt(content_type)?,
                content_encoding: content_encoding.clone(),
                correlation_id: opt(correlation_id)?,
            },
        };
        Ok(Command {
            name: self.name.clone(),
            description: self.description.clone(),
            vars: BTreeMap::new(),
            action,
        })
    }

    /// The scenario step this command is on `device` (see [`Command::render`]).
    pub fn to_step(&self, device: &str, given: &Vars) -> Result<Step, LibraryError> {
        let done = self.render(device, given)?;
        let label = Some(format!("command {}", self.name));
        Ok(match done.action {
            Action::Method {
                method,
                payload,
                connect_timeout,
                response_timeout,
            } => Step::Invoke(Invoke {
                name: label,
                timeout: None,
                device: device.to_string(),
                module: None,
                method,
                payload,
                connect_timeout,
                response_timeout,
                expect: None,
                capture: BTreeMap::new(),
            }),
            Action::C2d {
                body,
                body_encoding,
                properties,
                ack,
                ttl_secs,
                content_type,
                content_encoding,
                correlation_id,
            } => Step::Send(Send {
                name: label,
                timeout: None,
                device: device.to_string(),
                body,
                body_encoding,
                properties,
                ack,
                ttl: ttl_secs.map(|s| crate::duration::Dur(std::time::Duration::from_secs(s))),
                expiry: None,
                message_id: None,
                correlation_id,
                user_id: None,
                content_type,
                content_encoding,
                expect_error: None,
            }),
        })
    }
}

impl Library {
    /// Parses a library (an export, or the data directory's file).
    pub fn from_toml(text: &str) -> Result<Library, LibraryError> {
        let lib: Library = toml::from_str(text).map_err(|e| {
            LibraryError(format!("not a command library: {}", e.to_string().trim()))
        })?;
        unknown_key(text)?;
        if lib.version != VERSION {
            return Err(LibraryError(format!(
                "command library version {} is not one this Hublet reads (expected {VERSION})",
                lib.version
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &lib.commands {
            c.check()?;
            if !seen.insert(c.name.as_str()) {
                return Err(LibraryError(format!("command '{}' is there twice", c.name)));
            }
        }
        Ok(lib)
    }

    /// As TOML (what is saved and exported).
    pub fn to_toml(&self) -> Result<String, LibraryError> {
        let header = "# Hublet's command library: saved direct-method calls and C2D messages.\n\
                      # Shared with `hublet run`, scenario steps (do = \"command\") and the app.\n";
        let body = toml::to_string(self)
            .map_err(|e| LibraryError(format!("the library cannot be written as TOML: {e}")))?;
        Ok(format!("{header}{body}"))
    }

    /// Reads the data directory's library (none yet: empty).
    pub fn load(dir: &Path) -> Result<Library, LibraryError> {
        match std::fs::read_to_string(dir.join(FILE)) {
            Ok(text) => Library::from_toml(&text)
                .map_err(|e| LibraryError(format!("{}: {e}", dir.join(FILE).display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Library::default()),
            Err(e) => Err(LibraryError(format!(
                "cannot read {}: {e}",
                dir.join(FILE).display()
            ))),
        }
    }

    /// Writes it to the data directory, atomically (a crash leaves the old
    /// file or the new one, never half of one).
    pub fn save(&self, dir: &Path) -> Result<(), LibraryError> {
        let path = dir.join(FILE);
        let tmp = dir.join(format!(".{FILE}.tmp"));
        // Nothing is written unless the whole library is.
        let text = self.to_toml()?;
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| LibraryError(format!("cannot write {}: {e}", path.display())))
    }

    /// Adds or replaces (by name) a command, keeping names in order.
    pub fn put(&mut self, c: Command) -> Result<(), LibraryError> {
        c.check()?;
        self.commands.retain(|x| x.name != c.name);
        self.commands.push(c);
        self.commands.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    /// Removes a command; false when there was none of that name.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.commands.len();
        self.commands.retain(|x| x.name != name);
        self.commands.len() != before
    }

    /// The command of that name.
    pub fn get(&self, name: &str) -> Option<&Command> {
        self.commands.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEXT: &str = r#"
[[command]]
name = "set-point"
kind = "method"
method = "setSetpoint"
payload = { setpoint = "{{sp}}" }
vars = { sp = 21 }

[[command]]
name = "led"
kind = "c2d"
body = { led = "{{state}}" }
properties = { for = "{{device}}" }
ack = "full"
"#;

    #[test]
    fn commands_fill_their_variables_from_given_then_defaults() {
        let lib = Library::from_toml(TEXT).expect("reads");
        let step = lib
            .get("set-point")
            .unwrap()
            .to_step("t-1", &Vars::new())
            .expect("defaults");
        let Step::Invoke(i) = step else {
            panic!("a method")
        };
        assert_eq!(
            (i.method.as_str(), i.payload.clone()),
            ("setSetpoint", json!({"setpoint": 21}))
        );
        let mut given = Vars::new();
        given.insert("state".into(), json!("on"));
        let Step::Send(s) = lib
            .get("led")
            .unwrap()
            .to_step("t-1", &given)
            .expect("given")
        else {
            panic!("a message")
        };
        assert_eq!(s.body, json!({"led": "on"}));
        assert_eq!(s.properties.get("for").map(String::as_str), Some("t-1"));
        let e = lib
            .get("led")
            .unwrap()
            .to_step("t-1", &Vars::new())
            .unwrap_err();
        assert!(e.0.contains("no variable 'state'"), "{e}");
    }

    #[test]
    fn every_field_written_is_a_known_key() {
        let full = r#"
[[command]]
name = "m"
description = "d"
vars = { a = 1 }
kind = "method"
method = "x"
payload = { a = 1 }
connect_timeout = 1
response_timeout = 5

[[command]]
name = "c"
description = "d"
vars = { a = 1 }
kind = "c2d"
body = "b"
body_encoding = "text"
properties = { a = "b" }
ack = "full"
ttl_secs = 5
content_type = "t"
content_encoding = "e"
correlation_id = "c"
"#;
        let lib = Library::from_toml(full).expect("every field");
        let again: toml::Table = toml::from_str(&lib.to_toml().expect("toml")).expect("toml");
        for c in again["command"].as_array().expect("commands") {
            let kind = c["kind"].as_str().expect("kind");
            for k in c.as_table().expect("table").keys() {
                assert!(known_keys(kind).contains(&k.as_str()), "{k} of {kind}");
            }
        }
        let typo = "[[command]]\nname = \"x\"\nkind = \"method\"\nmethod = \"m\"\npayolad = 1\n";
        assert!(
            Library::from_toml(typo)
                .unwrap_err()
                .0
                .contains("unknown field `payolad`")
        );
    }

    #[test]
    fn a_library_round_trips_and_refuses_bad_ones() {
        let lib = Library::from_toml(TEXT).expect("reads");
        assert_eq!(
            Library::from_toml(&lib.to_toml().expect("toml")).expect("again"),
            lib
        );
        let mut with_null = lib.clone();
        let null_payload: Command = serde_json::from_value(
            json!({"name": "n", "kind": "method", "method": "m", "payload": {"reset": null}}),
        )
        .expect("json");
        assert!(
            with_null
                .put(null_payload)
                .unwrap_err()
                .0
                .contains("payload.reset is null")
        );
        let no_body: Command =
            serde_json::from_value(json!({"name": "empty", "kind": "c2d"})).expect("json");
        with_null.put(no_body).expect("a message without a body");
        assert!(with_null.to_toml().is_ok());
        assert!(
            Library::from_toml("[[command]]\nname = \"x\"\nkind = \"method\"\n").is_err(),
            "a method needs its name"
        );
        assert!(Library::from_toml("[[command]]\nname = \"a b\"\nkind = \"c2d\"\n").is_err());
        let twice = "[[command]]\nname = \"x\"\nkind = \"c2d\"\n[[command]]\nname = \"x\"\nkind = \"c2d\"\n";
        assert!(Library::from_toml(twice).unwrap_err().0.contains("twice"));
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(
            Library::load(dir.path()).expect("none yet"),
            Library::default()
        );
        lib.save(dir.path()).expect("save");
        assert_eq!(Library::load(dir.path()).expect("load"), lib);
    }
}
