//! spaces.members: list, get, create, patch and delete, with the rules the
//! Chat API enforces on memberships (the only owner, direct messages, roles
//! only in spaces of type SPACE).

use serde_json::{Map, Value, json};

use super::Counters;
use super::caller::{Caller, CallerKind};
use super::error::{ApiError, ApiResult};
use super::filter::MemberFilter;
use super::paging::{next_page_token, page_request};
use super::server::Access;
use super::server::Query;
use super::spaces::{find, find_mut, find_visible, percent_decode, space_id};
use super::state::{
    Affiliation, EmulatorState, Member, Membership, MembershipState, Role, Space, SpaceType,
    UserType, is_email, is_numeric_id,
};
use super::time::now_rfc3339;
use super::wire::membership_json;

/// The fields of the Membership resource, the only keys a request body may contain.
const MEMBERSHIP_FIELDS: [&str; 8] = [
    "name",
    "state",
    "role",
    "member",
    "groupMember",
    "createTime",
    "deleteTime",
    "affiliation",
];

/// The fields of the User resource, the only keys `member` may contain.
const USER_FIELDS: [&str; 7] = [
    "name",
    "displayName",
    "domainId",
    "type",
    "isAnonymous",
    "email",
    "avatarUrl",
];

/// The `{member}` of `spaces/{space}/members/{member}`.
enum MemberSegment {
    Id(String),
    Email(String),
}

fn member_segment(space_id: &str, segment: &str) -> Result<MemberSegment, ApiError> {
    let member = percent_decode(segment)?;
    if member.contains('@') && is_email(&member) {
        return Ok(MemberSegment::Email(member));
    }
    if !member.is_empty() && member.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(MemberSegment::Id(member));
    }
    Err(ApiError::invalid_argument(format!(
        "invalid membership name \"spaces/{space_id}/members/{member}\": expected a user id, a group id or a user's email after members/"
    )))
}

/// Resolves a member segment to the key of an existing membership. An email
/// is matched against the directory ignoring case.
fn membership_key(
    state: &EmulatorState,
    space_id: &str,
    space: &Space,
    segment: &MemberSegment,
) -> Result<String, ApiError> {
    let (key, shown) = match segment {
        MemberSegment::Id(id) => (Some(id.clone()), id.as_str()),
        MemberSegment::Email(email) => (
            state.user_by_email(email).map(|user| user.id.clone()),
            email.as_str(),
        ),
    };
    key.filter(|key| space.memberships.contains_key(key))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "membership spaces/{space_id}/members/{shown} not found"
            ))
        })
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::invalid_argument(
            "invalid JSON payload: expected a Membership object",
        )),
        Err(error) => Err(ApiError::invalid_argument(format!(
            "invalid JSON payload: {error}"
        ))),
    }
}

fn reject_unknown_fields(
    object: &Map<String, Value>,
    known: &[&str],
    resource: &str,
) -> Result<(), ApiError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(ApiError::invalid_argument(format!(
            "invalid JSON payload: unknown field `{key}` in {resource}"
        ))),
        None => Ok(()),
    }
}

/// Records a SPACE losing its last owner. The only-owner rule should make
/// this impossible, so a non-zero counter points to a bug in the emulator.
fn check_owner_kept(counters: &mut Counters, space_id: &str, space: &Space, had_owner: bool) {
    if space.space_type == SpaceType::Space && had_owner && space.owner_count() == 0 {
        counters.spaces_left_without_owner += 1;
        tracing::error!(space = %format!("spaces/{space_id}"), "space was left without an owner");
    }
}

/// Returns the only-owner refusal when `key` is the space's only joined owner.
fn refuse_only_owner(
    counters: &mut Counters,
    space_id: &str,
    space: &Space,
    key: &str,
    action: &str,
) -> Result<(), ApiError> {
    if space.space_type == SpaceType::Space && space.is_owner(key) && space.owner_count() == 1 {
        counters.only_owner_refusals += 1;
        return Err(ApiError::failed_precondition(format!(
            "cannot {action} spaces/{space_id}/members/{key}: it is the only owner (ROLE_MANAGER) of spaces/{space_id}; \
             make another member an owner first"
        )));
    }
    Ok(())
}

/// Whether the caller is a joined owner of the space; the default caller
/// is an owner of every space.
fn is_owner(space: &Space, caller: &Caller) -> bool {
    match &caller.user {
        None => true,
        Some(user) => space.is_owner(user),
    }
}

/// Refuses to remove or change an owner's membership unless the caller is
/// an owner of the space or uses admin mode.
fn check_may_change_owner(
    access: &Access<'_>,
    space_id: &str,
    space: &Space,
    key: &str,
    action: &str,
) -> Result<(), ApiError> {
    if space.is_owner(key) && !access.admin_mode && !is_owner(space, access.caller) {
        return Err(ApiError::permission_denied(format!(
            "cannot {action} spaces/{space_id}/members/{key}: it is an owner, and only an owner of spaces/{space_id} \
             or an administrator with useAdminAccess=true may {action} an owner"
        )));
    }
    Ok(())
}

/// Rejects a change to an app membership in admin mode, which Google
/// documents as unable to touch app memberships.
fn check_admin_leaves_apps(
    access: &Access<'_>,
    state: &EmulatorState,
    membership: &Membership,
    space_id: &str,
    key: &str,
    action: &str,
) -> Result<(), ApiError> {
    if access.admin_mode && is_app(state, membership) {
        return Err(ApiError::permission_denied(format!(
            "spaces/{space_id}/members/{key} belongs to a Chat app, and admin mode cannot {action} app memberships"
        )));
    }
    Ok(())
}

/// Whether the membership belongs to a Chat app.
fn is_app(state: &EmulatorState, membership: &Membership) -> bool {
    match &membership.member {
        Member::User(id) => state
            .users
            .get(id)
            .is_some_and(|user| user.user_type == UserType::Bot),
        Member::Group(_) => false,
    }
}

pub(crate) fn list(
    state: &EmulatorState,
    access: &Access<'_>,
    space_segment: &str,
    query: &Query,
) -> ApiResult {
    let space_id = space_id(space_segment)?;
    let show_groups = query.flag("showGroups")?;
    let show_invited = query.flag("showInvited")?;
    let use_admin_access = query.flag("useAdminAccess")?;
    let filter_text = query.get("filter").unwrap_or("");
    let filter = match filter_text {
        "" => None,
        text => Some(MemberFilter::parse(text)?),
    };
    if use_admin_access {
        match &filter {
            Some(filter) => filter.check_admin_access(filter_text)?,
            None => {
                return Err(ApiError::invalid_argument(
                    "with useAdminAccess=true a filter with member.type = \"HUMAN\" or member.type != \"BOT\" is required",
                ));
            }
        }
    }
    let fingerprint = format!(
        "spaces.members.list\n{space_id}\n{filter_text}\n{show_groups}\n{show_invited}\n{use_admin_access}"
    );
    let page = page_request(query.get("pageSize"), query.get("pageToken"), &fingerprint)?;
    if show_invited && access.caller.kind == CallerKind::App {
        return Err(ApiError::permission_denied(
            "showInvited=true needs user authentication; an app caller cannot list invitations",
        ));
    }
    let space = find_visible(state, access, &space_id)?;
    // App authentication never lists app memberships, its own included.
    let hide_apps = access.caller.kind == CallerKind::App;

    let visible = |membership: &Membership| {
        if hide_apps && is_app(state, membership) {
            return false;
        }
        let user_type = match &membership.member {
            Member::Group(_) if !show_groups => return false,
            Member::Group(_) => None,
            Member::User(id) => state.users.get(id).map(|user| user.user_type),
        };
        if membership.state == MembershipState::Invited && !show_invited {
            return false;
        }
        filter
            .as_ref()
            .is_none_or(|filter| filter.matches(membership.role, user_type))
    };
    let mut matching = space
        .memberships
        .iter()
        .filter(|(key, _)| {
            page.after
                .as_ref()
                .is_none_or(|after| key.as_str() > after.as_str())
        })
        .filter(|(_, membership)| visible(membership));

    let mut memberships = Vec::new();
    let mut last_key = None;
    for (key, membership) in matching.by_ref().take(page.size) {
        memberships.push(membership_json(&space_id, key, membership, state));
        last_key = Some(key);
    }

    let mut body = json!({});
    if !memberships.is_empty() {
        body["memberships"] = Value::Array(memberships);
    }
    if let (Some(last_key), Some(_)) = (last_key, matching.next()) {
        body["nextPageToken"] = json!(next_page_token(last_key, &fingerprint));
    }
    Ok(body)
}

/// Returns one membership; `{member}` may be the user's email.
pub(crate) fn get(
    state: &EmulatorState,
    access: &Access<'_>,
    space_segment: &str,
    member_segment_text: &str,
) -> ApiResult {
    let space_id = space_id(space_segment)?;
    let segment = member_segment(&space_id, member_segment_text)?;
    let space = find_visible(state, access, &space_id)?;
    let key = membership_key(state, &space_id, space, &segment)?;
    Ok(membership_json(
        &space_id,
        &key,
        &space.memberships[&key],
        state,
    ))
}

/// Adds a user or a group to a space as ROLE_MEMBER. A user whose
/// `auto_accept` is false gets an INVITED membership.
pub(crate) fn create(
    state: &mut EmulatorState,
    access: &Access<'_>,
    space_segment: &str,
    body: &[u8],
) -> ApiResult {
    let space_id = space_id(space_segment)?;
    find_visible(state, access, &space_id)?;
    let request = json_object(body)?;
    reject_unknown_fields(&request, &MEMBERSHIP_FIELDS, "Membership")?;

    // The discovery document states that `role` is input only in
    // UpdateMembership, so Google would silently ignore another role in a
    // create request. The emulator rejects it instead.
    match request.get("role") {
        None | Some(Value::Null) => {}
        Some(Value::String(role))
            if role == "ROLE_MEMBER" || role == "MEMBERSHIP_ROLE_UNSPECIFIED" => {}
        Some(other) => {
            return Err(ApiError::invalid_argument(format!(
                "role {other} cannot be set by members.create; create the membership, then set the role with members.patch"
            )));
        }
    }

    let (key, member) = match (request.get("member"), request.get("groupMember")) {
        (Some(user), None) => {
            let id = requested_user(state, user)?;
            (id.clone(), Member::User(id))
        }
        (None, Some(group)) => {
            let id = requested_group(state, group)?;
            (id.clone(), Member::Group(id))
        }
        _ => {
            return Err(ApiError::invalid_argument(
                "a Membership to create needs exactly one of `member` (a user) or `groupMember` (a group)",
            ));
        }
    };

    if let Member::User(id) = &member
        && access.admin_mode
        && state.users[id].affiliation != Affiliation::Internal
    {
        return Err(ApiError::permission_denied(format!(
            "users/{id} is outside the organisation, and admin mode cannot add users from outside the organisation"
        )));
    }
    let new_state = match &member {
        Member::User(id) if !state.users[id].auto_accept => MembershipState::Invited,
        _ => MembershipState::Joined,
    };
    let role = match &member {
        Member::User(_) => Role::RoleMember,
        Member::Group(_) => Role::Unspecified,
    };
    let space = find_mut(state, &space_id)?;
    if space.space_type == SpaceType::DirectMessage {
        return Err(ApiError::failed_precondition(format!(
            "cannot add members to spaces/{space_id}: it is a direct message"
        )));
    }
    if matches!(member, Member::Group(_)) && space.space_type != SpaceType::Space {
        return Err(ApiError::failed_precondition(format!(
            "cannot add groups/{key} to spaces/{space_id}: groups can only join spaces of type SPACE"
        )));
    }
    if let Some(existing) = space.memberships.get(&key) {
        let prefix = if matches!(member, Member::Group(_)) {
            "groups"
        } else {
            "users"
        };
        return Err(ApiError::already_exists(format!(
            "{prefix}/{key} is already a member of spaces/{space_id} (state {})",
            existing.state.as_str()
        )));
    }

    let membership = Membership {
        member,
        role,
        state: new_state,
        create_time: now_rfc3339(),
    };
    space.memberships.insert(key.clone(), membership);
    let space = find(state, &space_id)?;
    Ok(membership_json(
        &space_id,
        &key,
        &space.memberships[&key],
        state,
    ))
}

/// Checks the `member` of a create request and returns the user's id.
fn requested_user(state: &EmulatorState, user: &Value) -> Result<String, ApiError> {
    let Value::Object(user) = user else {
        return Err(ApiError::invalid_argument("`member` must be a User object"));
    };
    reject_unknown_fields(user, &USER_FIELDS, "member")?;
    match user.get("type").and_then(Value::as_str) {
        Some("HUMAN") => {}
        Some("BOT") => {
            return Err(ApiError::invalid_argument(
                "creating memberships for Chat apps (member.type BOT) is not supported",
            ));
        }
        Some(other) => {
            return Err(ApiError::invalid_argument(format!(
                "invalid member.type {other:?}: expected HUMAN"
            )));
        }
        None => {
            return Err(ApiError::invalid_argument(
                "member.type is required; set it to HUMAN",
            ));
        }
    }
    let name = user.get("name").and_then(Value::as_str).ok_or_else(|| {
        ApiError::invalid_argument("member.name is required, as users/{id} or users/{email}")
    })?;
    let Some(id_or_email) = name.strip_prefix("users/") else {
        return Err(ApiError::invalid_argument(format!(
            "invalid member.name {name:?}: expected users/{{id}} or users/{{email}}"
        )));
    };

    let found = if id_or_email == "app" {
        return Err(ApiError::invalid_argument(
            "adding the calling app (users/app) is not supported by the emulator",
        ));
    } else if is_email(id_or_email) {
        state.user_by_email(id_or_email)
    } else if is_numeric_id(id_or_email) {
        state.users.get(id_or_email)
    } else {
        return Err(ApiError::invalid_argument(format!(
            "invalid member.name {name:?}: expected users/{{id}} or users/{{email}}"
        )));
    };
    let user = found.ok_or_else(|| ApiError::not_found(format!("user {name} not found")))?;
    if user.user_type == UserType::Bot {
        return Err(ApiError::invalid_argument(format!(
            "{name} is a Chat app; creating memberships for Chat apps is not supported"
        )));
    }
    Ok(user.id.clone())
}

/// Checks the `groupMember` of a create request and returns the group's id.
fn requested_group(state: &EmulatorState, group: &Value) -> Result<String, ApiError> {
    let Value::Object(group) = group else {
        return Err(ApiError::invalid_argument(
            "`groupMember` must be a Group object",
        ));
    };
    reject_unknown_fields(group, &["name"], "groupMember")?;
    let name = group.get("name").and_then(Value::as_str).ok_or_else(|| {
        ApiError::invalid_argument("groupMember.name is required, as groups/{id}")
    })?;
    let id = name
        .strip_prefix("groups/")
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "invalid groupMember.name {name:?}: expected groups/{{id}}"
            ))
        })?;
    if !state.groups.contains(id) {
        return Err(ApiError::not_found(format!("group {name} not found")));
    }
    Ok(id.to_string())
}

/// Changes a membership's role (`updateMask=role`).
pub(crate) fn patch(
    state: &mut EmulatorState,
    counters: &mut Counters,
    access: &Access<'_>,
    space_segment: &str,
    member_segment_text: &str,
    query: &Query,
    body: &[u8],
) -> ApiResult {
    let space_id = space_id(space_segment)?;
    // Google documents the email alias for members.get and members.delete
    // only, so the emulator rejects it here rather than guess.
    let key = match member_segment(&space_id, member_segment_text)? {
        MemberSegment::Id(id) => id,
        MemberSegment::Email(email) => {
            return Err(ApiError::invalid_argument(format!(
                "members.patch does not accept an email ({email}) in the membership name; use the numeric id, \
                 spaces/{space_id}/members/{{id}}"
            )));
        }
    };

    let mask = query.get("updateMask").unwrap_or("").trim();
    if mask.is_empty() {
        return Err(ApiError::invalid_argument(
            "updateMask is required; set updateMask=role",
        ));
    }
    for path in mask.split(',').map(str::trim) {
        if path != "role" && path != "*" {
            return Err(ApiError::invalid_argument(format!(
                "updateMask field `{path}` cannot be updated; only `role` can"
            )));
        }
    }

    let request = json_object(body)?;
    reject_unknown_fields(&request, &MEMBERSHIP_FIELDS, "Membership")?;
    let new_role = match request
        .get("role")
        .and_then(Value::as_str)
        .map(|text| (text, Role::parse(text)))
    {
        Some((_, Some(role))) if role != Role::Unspecified => role,
        Some((text, _)) => {
            return Err(ApiError::invalid_argument(format!(
                "invalid role {text:?}: expected ROLE_MEMBER, ROLE_ASSISTANT_MANAGER or ROLE_MANAGER"
            )));
        }
        None => {
            return Err(ApiError::invalid_argument(
                "`role` is required in the body when updateMask names it",
            ));
        }
    };

    let space = find_visible(state, access, &space_id)?;
    let Some(membership) = space.memberships.get(&key) else {
        return Err(ApiError::not_found(format!(
            "membership spaces/{space_id}/members/{key} not found"
        )));
    };
    check_admin_leaves_apps(access, state, membership, &space_id, &key, "change")?;
    check_may_change_owner(access, &space_id, space, &key, "change")?;
    if new_role == Role::RoleManager && !access.admin_mode && !is_owner(space, access.caller) {
        return Err(ApiError::permission_denied(format!(
            "cannot make spaces/{space_id}/members/{key} an owner: only an owner of spaces/{space_id} \
             or an administrator with useAdminAccess=true may make a member an owner"
        )));
    }
    if space.space_type != SpaceType::Space {
        return Err(ApiError::failed_precondition(format!(
            "cannot change roles in spaces/{space_id}: it is a {}, and roles exist only in spaces of type SPACE",
            space.space_type.as_str()
        )));
    }
    let user_id = match &membership.member {
        Member::Group(id) => {
            return Err(ApiError::invalid_argument(format!(
                "groups/{id} is a group membership, which has no role to change"
            )));
        }
        Member::User(id) => id,
    };
    // Google does not document a role change for an invited member. The
    // emulator requires the invitation to be accepted first.
    if membership.state == MembershipState::Invited {
        return Err(ApiError::failed_precondition(format!(
            "cannot change the role of spaces/{space_id}/members/{key}: the user is invited and must join first"
        )));
    }
    if state
        .users
        .get(user_id)
        .is_some_and(|user| user.user_type == UserType::Bot)
    {
        return Err(ApiError::invalid_argument(format!(
            "users/{user_id} is a Chat app, and apps cannot be owners or managers"
        )));
    }
    if new_role != Role::RoleManager {
        refuse_only_owner(counters, &space_id, space, &key, "demote")?;
    }

    let space = find_mut(state, &space_id)?;
    let had_owner = space.owner_count() > 0;
    if let Some(membership) = space.memberships.get_mut(&key) {
        membership.role = new_role;
    }
    check_owner_kept(counters, &space_id, space, had_owner);

    let space = find(state, &space_id)?;
    Ok(membership_json(
        &space_id,
        &key,
        &space.memberships[&key],
        state,
    ))
}

/// Removes a membership; `{member}` may be the user's email.
///
/// The response is the deleted Membership with state NOT_A_MEMBER. The API
/// reference does not document the state, but Google's guide to removing a
/// member shows this response.
pub(crate) fn delete(
    state: &mut EmulatorState,
    counters: &mut Counters,
    access: &Access<'_>,
    space_segment: &str,
    member_segment_text: &str,
) -> ApiResult {
    let space_id = space_id(space_segment)?;
    let segment = member_segment(&space_id, member_segment_text)?;
    let space = find_visible(state, access, &space_id)?;
    let key = membership_key(state, &space_id, space, &segment)?;
    let membership = &space.memberships[&key];
    if access.caller.kind == CallerKind::App && !access.admin_mode {
        if matches!(membership.member, Member::Group(_)) {
            return Err(ApiError::permission_denied(format!(
                "an app caller cannot remove groups; spaces/{space_id}/members/{key} is a group membership"
            )));
        }
        if is_app(state, membership) {
            return Err(ApiError::permission_denied(format!(
                "an app caller cannot remove Chat apps; spaces/{space_id}/members/{key} belongs to an app"
            )));
        }
    }
    check_admin_leaves_apps(access, state, membership, &space_id, &key, "remove")?;
    check_may_change_owner(access, &space_id, space, &key, "remove")?;

    let space = find_mut(state, &space_id)?;
    if space.space_type == SpaceType::DirectMessage {
        return Err(ApiError::failed_precondition(format!(
            "cannot remove members from spaces/{space_id}: it is a direct message, and members cannot leave a direct message"
        )));
    }
    refuse_only_owner(counters, &space_id, space, &key, "remove")?;

    let had_owner = space.owner_count() > 0;
    let mut removed = space
        .memberships
        .remove(&key)
        .expect("membership_key found this membership");
    check_owner_kept(counters, &space_id, space, had_owner);

    removed.state = MembershipState::NotAMember;
    Ok(membership_json(&space_id, &key, &removed, state))
}
