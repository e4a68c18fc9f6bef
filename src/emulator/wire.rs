//! The emulator's JSON for Space and Membership resources, built with
//! `serde_json` from the in-memory state. Field names and enum values follow
//! the discovery document (camelCase fields, upper-case enum values).
//!
//! The client has its own model types. This module deliberately does not
//! reuse them, so that a mistake in one is not mirrored in the other.

use serde_json::{Map, Value, json};

use super::state::{EmulatorState, Member, Membership, MembershipState, Space, UserType};

/// Renders `spaces/{space_id}`.
pub fn space_json(space_id: &str, space: &Space, state: &EmulatorState) -> Value {
    let joined = space
        .memberships
        .values()
        .filter(|m| m.state == MembershipState::Joined);
    let mut humans = 0;
    let mut groups = 0;
    for membership in joined {
        match &membership.member {
            Member::User(id) => {
                let is_human = state
                    .users
                    .get(id)
                    .is_some_and(|user| user.user_type == UserType::Human);
                if is_human {
                    humans += 1;
                }
            }
            Member::Group(_) => groups += 1,
        }
    }

    let mut body = Map::new();
    body.insert("name".into(), json!(format!("spaces/{space_id}")));
    if let Some(display_name) = &space.display_name {
        body.insert("displayName".into(), json!(display_name));
    }
    body.insert("spaceType".into(), json!(space.space_type.as_str()));
    body.insert(
        "membershipCount".into(),
        json!({"joinedDirectHumanUserCount": humans, "joinedGroupCount": groups}),
    );
    body.insert("createTime".into(), json!(space.create_time));
    if let Some(time) = &space.last_active_time {
        body.insert("lastActiveTime".into(), json!(time));
    }
    Value::Object(body)
}

/// Renders one membership of `spaces/{space_id}`; `member.email` appears
/// only when the state file's `show_emails` is true.
pub fn membership_json(
    space_id: &str,
    member_id: &str,
    membership: &Membership,
    state: &EmulatorState,
) -> Value {
    let mut body = Map::new();
    body.insert(
        "name".into(),
        json!(format!("spaces/{space_id}/members/{member_id}")),
    );
    body.insert("state".into(), json!(membership.state.as_str()));
    body.insert("role".into(), json!(membership.role.as_str()));

    match &membership.member {
        Member::User(id) => {
            let mut user = Map::new();
            user.insert("name".into(), json!(format!("users/{id}")));
            if let Some(record) = state.users.get(id) {
                user.insert("displayName".into(), json!(record.display_name));
                user.insert("type".into(), json!(record.user_type.as_str()));
                if state.show_emails {
                    user.insert("email".into(), json!(record.email));
                }
                body.insert("affiliation".into(), json!(record.affiliation.as_str()));
            }
            body.insert("member".into(), Value::Object(user));
        }
        Member::Group(id) => {
            body.insert(
                "groupMember".into(),
                json!({"name": format!("groups/{id}")}),
            );
        }
    }

    body.insert("createTime".into(), json!(membership.create_time));
    Value::Object(body)
}
