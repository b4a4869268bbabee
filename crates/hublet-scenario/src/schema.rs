//! The JSON Schema of scenario files, generated from [`crate::format`] so
//! it cannot drift from what the parser accepts. Editors use it for
//! completion (Taplo / Even Better TOML: `#:schema ./scenario.schema.json`
//! or a `[[schema]]` entry in `.taplo.toml`).

use crate::format::ScenarioFile;

/// Where the published copy lives, from the repository's root.
pub const PUBLISHED: &str = "docs/scenario.schema.json";

/// The schema as pretty JSON (with a trailing newline).
pub fn json() -> String {
    let mut schema = schemars::schema_for!(ScenarioFile);
    schema.insert(
        "$id".into(),
        serde_json::json!("https://hublet.invalid/scenario.schema.json"),
    );
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    /// The published schema is this build's. To refresh it:
    /// `HUBLET_WRITE_SCHEMA=1 cargo test -p hublet-scenario --lib schema`.
    #[test]
    fn published_schema_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(super::PUBLISHED);
        let now = super::json();
        if std::env::var_os("HUBLET_WRITE_SCHEMA").is_some() {
            std::fs::write(&path, &now).expect("write the schema");
        }
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            published == now,
            "{} is out of date: run HUBLET_WRITE_SCHEMA=1 cargo test -p hublet-scenario --lib schema",
            super::PUBLISHED
        );
    }
}
