//! Wire types of the Chat API resources the client reads and writes.
//!
//! Field names follow the discovery document (`chat.v1.json`, revision
//! 20261107). Enums keep values they do not know in an `Other` variant,
//! because Google has added roles and states before and an unknown value is
//! data, not a decoding error.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a string enum that round-trips unknown values through `Other`.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// Returns the API's spelling of the value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(value) => value,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)*
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(Self::from(value.as_str()))
            }
        }
    };
}

open_enum! {
    /// `Membership.role`.
    MembershipRole {
        Unspecified => "MEMBERSHIP_ROLE_UNSPECIFIED",
        /// Called "Member" in Chat.
        Member => "ROLE_MEMBER",
        /// Called "Manager" in Chat.
        AssistantManager => "ROLE_ASSISTANT_MANAGER",
        /// Called "Owner" in Chat.
        Manager => "ROLE_MANAGER",
    }
}

open_enum! {
    /// `Membership.state`.
    MembershipState {
        Unspecified => "MEMBERSHIP_STATE_UNSPECIFIED",
        Joined => "JOINED",
        Invited => "INVITED",
        NotAMember => "NOT_A_MEMBER",
    }
}

open_enum! {
    /// `User.type`.
    UserType {
        Unspecified => "TYPE_UNSPECIFIED",
        Human => "HUMAN",
        Bot => "BOT",
    }
}

open_enum! {
    /// `Space.spaceType`.
    SpaceType {
        Unspecified => "SPACE_TYPE_UNSPECIFIED",
        Space => "SPACE",
        GroupChat => "GROUP_CHAT",
        DirectMessage => "DIRECT_MESSAGE",
    }
}

open_enum! {
    /// `Membership.affiliation`.
    Affiliation {
        Unspecified => "AFFILIATION_UNSPECIFIED",
        Internal => "INTERNAL",
        External => "EXTERNAL",
        ManagedExternal => "MANAGED_EXTERNAL",
    }
}

impl MembershipRole {
    /// Returns the word the Chat app shows for this role (`owner`, `manager`,
    /// `member`), or the API value for roles without one.
    pub fn admin_word(&self) -> &str {
        match self {
            Self::Manager => "owner",
            Self::AssistantManager => "manager",
            Self::Member => "member",
            Self::Unspecified => "none",
            Self::Other(value) => value,
        }
    }
}

/// `User`: a person or a Chat app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// `users/{id}`; requests may use `users/{email}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<UserType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_anonymous: Option<bool>,
    /// Output only, and often absent under user authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `Group`: a Google Group added to a space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// `groups/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `Membership`: one member's place in one space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// `spaces/{space}/members/{member}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<MembershipState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MembershipRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_member: Option<Group>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<Affiliation>,
}

/// `MembershipCount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MembershipCount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_direct_human_user_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_group_count: Option<i64>,
}

/// `Space`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Space {
    /// `spaces/{space}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_type: Option<SpaceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_count: Option<MembershipCount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_user_allowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_uri: Option<String>,
}

/// `ListMembershipsResponse`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListMembershipsResponse {
    #[serde(default)]
    pub memberships: Vec<Membership>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// `ListSpacesResponse`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListSpacesResponse {
    #[serde(default)]
    pub spaces: Vec<Space>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// `SearchSpacesResponse` of `spaces.search`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SearchSpacesResponse {
    #[serde(default)]
    pub spaces: Vec<Space>,
    #[serde(default)]
    pub next_page_token: Option<String>,
    #[serde(default)]
    pub total_size: Option<i64>,
}
