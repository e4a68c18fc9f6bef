//! The policy file's syntax: plain structs that mirror the YAML keys.
//!
//! Reading into these structs checks only the shape of the document (keys,
//! types, duplicate keys). Values that need validation are kept as
//! [`Spanned`] so that [`super::resolve`] can point at them.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

/// The document root. Any YAML value is accepted here, so that a file
/// holding a list or a scalar is reported with its position and in words an
/// operator understands.
#[derive(Debug)]
pub(crate) enum Root {
    Policy(RawPolicy),
    /// The kind of value found instead of a mapping, for the message.
    NotMapping(&'static str),
}

impl<'de> Deserialize<'de> for Root {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RootVisitor)
    }
}

struct RootVisitor;

impl<'de> Visitor<'de> for RootVisitor {
    type Value = Root;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a mapping with `version` and `spaces`")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Root, A::Error> {
        let policy = RawPolicy::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Root::Policy(policy))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Root, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Root::NotMapping("a list"))
    }

    fn visit_str<E: de::Error>(self, _value: &str) -> Result<Root, E> {
        Ok(Root::NotMapping("a string"))
    }

    fn visit_bool<E: de::Error>(self, _value: bool) -> Result<Root, E> {
        Ok(Root::NotMapping("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _value: i64) -> Result<Root, E> {
        Ok(Root::NotMapping("a number"))
    }

    fn visit_u64<E: de::Error>(self, _value: u64) -> Result<Root, E> {
        Ok(Root::NotMapping("a number"))
    }

    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Root, E> {
        Ok(Root::NotMapping("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Root, E> {
        Ok(Root::NotMapping("null"))
    }
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    /// Optional here so that a missing version gets its own message.
    #[serde(default)]
    pub version: Option<Spanned<RawVersion>>,
    #[serde(default)]
    pub protect: Vec<Spanned<String>>,
    #[serde(default)]
    pub offboard: Vec<Spanned<RawOffboard>>,
    #[serde(default)]
    pub successors: Vec<Spanned<String>>,
    #[serde(default)]
    pub successor_fallback: RawSuccessorFallback,
    #[serde(default)]
    pub spaces: Vec<Spanned<RawSpace>>,
    #[serde(default)]
    pub guards: Option<Box<RawGuards>>,
}

/// `guards`: the limits that refuse a whole run. Numbers are kept signed and
/// spanned so that a negative or out-of-range value is reported where it is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGuards {
    #[serde(default)]
    pub max_removals: Option<Spanned<i64>>,
    #[serde(default)]
    pub max_removed_fraction: Option<Spanned<f64>>,
    #[serde(default)]
    pub min_owners: Option<Spanned<i64>>,
}

/// `version`, as written. Any value is accepted here so that a wrong one is
/// reported with the supported version next to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawVersion {
    Integer(i64),
    /// Anything else, as a message shows it: `"1"`, `1.5`, `[...]`.
    Other(String),
}

impl<'de> Deserialize<'de> for RawVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VersionVisitor)
    }
}

struct VersionVisitor;

impl<'de> Visitor<'de> for VersionVisitor {
    type Value = RawVersion;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a version number")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawVersion, E> {
        Ok(RawVersion::Integer(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<RawVersion, E> {
        Ok(match i64::try_from(value) {
            Ok(value) => RawVersion::Integer(value),
            Err(_) => RawVersion::Other(value.to_string()),
        })
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<RawVersion, E> {
        Ok(RawVersion::Other(value.to_string()))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<RawVersion, E> {
        Ok(RawVersion::Other(value.to_string()))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<RawVersion, E> {
        Ok(RawVersion::Other(format!("{value:?}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawVersion, E> {
        Ok(RawVersion::Other("null".to_string()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawVersion, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(RawVersion::Other("[...]".to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawVersion, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(RawVersion::Other("{...}".to_string()))
    }
}

/// One entry of `offboard`: a member, or `{member: ..., scope: ...}`.
#[derive(Debug)]
pub(crate) enum RawOffboard {
    Member(String),
    Entry(RawOffboardEntry),
}

/// The mapping form of an `offboard` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOffboardEntry {
    pub member: Spanned<String>,
    #[serde(default)]
    pub scope: RawOffboardScope,
}

/// `scope` of an `offboard` entry.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawOffboardScope {
    /// Removed from the spaces the policy names.
    #[default]
    NamedSpaces,
    /// Also removed from every space `chat-reconcile offboard` finds.
    AllSpaces,
}

impl<'de> Deserialize<'de> for RawOffboard {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OffboardVisitor)
    }
}

struct OffboardVisitor;

impl<'de> Visitor<'de> for OffboardVisitor {
    type Value = RawOffboard;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a member, or a mapping with `member` and `scope`")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<RawOffboard, E> {
        Ok(RawOffboard::Member(value.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawOffboard, A::Error> {
        let entry = RawOffboardEntry::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(RawOffboard::Entry(entry))
    }
}

/// `successor_fallback`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawSuccessorFallback {
    #[default]
    None,
    LongestStanding,
}

/// `mode` of one space.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawMode {
    #[default]
    Exact,
    Additive,
}

/// One entry of `spaces`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpace {
    pub space: Spanned<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mode: RawMode,
    #[serde(default)]
    pub owners: Vec<Spanned<String>>,
    #[serde(default)]
    pub managers: Vec<Spanned<String>>,
    #[serde(default)]
    pub members: Vec<Spanned<String>>,
    #[serde(default)]
    pub successors: Vec<Spanned<String>>,
    #[serde(default)]
    pub keep: Vec<Spanned<String>>,
}

/// The largest policy text accepted, in bytes. A member line takes about
/// 30 bytes, so this leaves room for half a million members. A 10 MiB
/// policy parsed in about 3 s in a debug build on a 2-core machine
/// (`policy_validation`'s large-file test).
pub(crate) const MAX_POLICY_BYTES: usize = 16 * 1024 * 1024;

/// The deepest nesting of lists and mappings accepted.
pub(crate) const MAX_DEPTH: usize = 16;

/// Parser options: strict booleans, and a budget that stops alias bombs and
/// absurd nesting early. A policy nests four lists and mappings at most
/// (top mapping, `spaces`, a space, a member list).
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_nodes = 2_000_000;
    budget.max_events = 4_000_000;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;

    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = 500_000;
    options.with_snippet = false;
    options
}

/// Parses policy text into its syntax tree; `None` for an empty document.
pub(crate) fn read(text: &str) -> Result<Option<Spanned<Root>>, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, options())
}
