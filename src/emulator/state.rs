//! The emulator's state file: its YAML schema, its validation, and the
//! in-memory directory, spaces and memberships the server mutates.
//!
//! Reading is two steps. serde-saphyr reads the text into the `*File`
//! structs, rejecting unknown keys, duplicate keys and YAML 1.1 booleans
//! such as `no`. [`EmulatorState::from_file`] then checks references and
//! uniqueness and builds the maps the handlers use. It reports every problem
//! it finds, each with its line and the space or user it concerns.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::caller::{ALL_SCOPES, Caller, CallerKind, short_scope};
use super::faults::FaultSettings;
use super::quota::QuotaSettings;
use super::time::{is_rfc3339, now_rfc3339};
use super::token::{
    DEFAULT_TOKEN_LIFETIME, OAuthClient, OAuthClientFile, ServiceAccount, ServiceAccountFile,
    check_oauth_client, check_service_account,
};

/// A membership role, spelled as in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    #[serde(rename = "MEMBERSHIP_ROLE_UNSPECIFIED")]
    Unspecified,
    RoleMember,
    RoleAssistantManager,
    RoleManager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Unspecified => "MEMBERSHIP_ROLE_UNSPECIFIED",
            Role::RoleMember => "ROLE_MEMBER",
            Role::RoleAssistantManager => "ROLE_ASSISTANT_MANAGER",
            Role::RoleManager => "ROLE_MANAGER",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [
            Role::Unspecified,
            Role::RoleMember,
            Role::RoleAssistantManager,
            Role::RoleManager,
        ]
        .into_iter()
        .find(|role| role.as_str() == text)
    }
}

/// A membership state, spelled as in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MembershipState {
    Joined,
    Invited,
    NotAMember,
}

impl MembershipState {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipState::Joined => "JOINED",
            MembershipState::Invited => "INVITED",
            MembershipState::NotAMember => "NOT_A_MEMBER",
        }
    }
}

/// A space type, spelled as in the API's `spaceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpaceType {
    Space,
    GroupChat,
    DirectMessage,
}

impl SpaceType {
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceType::Space => "SPACE",
            SpaceType::GroupChat => "GROUP_CHAT",
            SpaceType::DirectMessage => "DIRECT_MESSAGE",
        }
    }
}

/// A user's type: a person or a Chat app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserType {
    #[default]
    Human,
    Bot,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Human => "HUMAN",
            UserType::Bot => "BOT",
        }
    }
}

/// A membership's affiliation with the space's organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Affiliation {
    #[default]
    Internal,
    External,
    ManagedExternal,
}

impl Affiliation {
    pub fn as_str(self) -> &'static str {
        match self {
            Affiliation::Internal => "INTERNAL",
            Affiliation::External => "EXTERNAL",
            Affiliation::ManagedExternal => "MANAGED_EXTERNAL",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    #[serde(default)]
    tokens: Vec<Spanned<String>>,
    #[serde(default)]
    callers: Vec<CallerFile>,
    /// Service accounts the token endpoint issues tokens to.
    #[serde(default)]
    service_accounts: Vec<ServiceAccountFile>,
    /// Clients of the installed-app flow (user sign-in).
    #[serde(default)]
    oauth_clients: Vec<OAuthClientFile>,
    /// Seconds an issued access token stays valid; 3600 by default.
    token_lifetime: Option<Spanned<u64>>,
    quotas: Option<BTreeMap<String, Spanned<String>>>,
    faults: Option<FaultsFile>,
    #[serde(default = "default_true")]
    show_emails: bool,
    #[serde(default)]
    users: Vec<UserFile>,
    #[serde(default)]
    groups: Vec<GroupFile>,
    #[serde(default)]
    spaces: Vec<SpaceFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserFile {
    id: Spanned<String>,
    email: Spanned<String>,
    display_name: Option<String>,
    #[serde(default, rename = "type")]
    user_type: UserType,
    #[serde(default)]
    affiliation: Affiliation,
    #[serde(default = "default_true")]
    auto_accept: bool,
    /// Whether the user is a Workspace administrator with the Chat
    /// privilege: a token issued for them may use admin mode.
    #[serde(default)]
    admin: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    id: Spanned<String>,
    /// User ids of the group's members. The Chat API never lists a group's
    /// members, so the emulator serves them to no request; tests read them
    /// through [`EmulatorState::group_members`].
    #[serde(default)]
    members: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpaceFile {
    name: Spanned<String>,
    display_name: Option<String>,
    #[serde(rename = "type")]
    space_type: SpaceType,
    create_time: Option<Spanned<String>>,
    last_active_time: Option<Spanned<String>>,
    #[serde(default)]
    memberships: Vec<MembershipFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MembershipFile {
    user: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    role: Option<Spanned<Role>>,
    state: Option<Spanned<MembershipState>>,
    create_time: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallerFile {
    token: Spanned<String>,
    kind: CallerKind,
    user: Option<Spanned<String>>,
    #[serde(default)]
    scopes: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsFile {
    seed: Option<u64>,
    #[serde(default)]
    methods: BTreeMap<String, MethodFaultsFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodFaultsFile {
    latency: Option<String>,
    jitter: Option<String>,
    error_500: Option<f64>,
    error_503: Option<f64>,
    error_504: Option<f64>,
    error_429: Option<f64>,
    reset: Option<f64>,
    hang: Option<f64>,
    hang_for: Option<String>,
}

impl MethodFaultsFile {
    /// The settings as `NAME=VALUE` pairs for [`FaultSettings::apply`].
    fn settings(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let texts = [
            ("latency", &self.latency),
            ("jitter", &self.jitter),
            ("hang_for", &self.hang_for),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                pairs.push((name, value.clone()));
            }
        }
        let rates = [
            ("error_500", self.error_500),
            ("error_503", self.error_503),
            ("error_504", self.error_504),
            ("error_429", self.error_429),
            ("reset", self.reset),
            ("hang", self.hang),
        ];
        for (name, value) in rates {
            if let Some(value) = value {
                pairs.push((name, value.to_string()));
            }
        }
        pairs
    }
}

fn default_true() -> bool {
    true
}

/// A person or app in the emulated organisation's directory.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub user_type: UserType,
    pub affiliation: Affiliation,
    pub auto_accept: bool,
}

/// The member of a membership: the id after `users/` or `groups/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Member {
    User(String),
    Group(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Membership {
    pub member: Member,
    pub role: Role,
    pub state: MembershipState,
    pub create_time: String,
}

impl Membership {
    /// Checks whether this is an owner: a joined `ROLE_MANAGER`. An invited
    /// membership does not keep a space owned.
    pub fn is_owner(&self) -> bool {
        self.role == Role::RoleManager && self.state == MembershipState::Joined
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Space {
    pub display_name: Option<String>,
    pub space_type: SpaceType,
    pub create_time: String,
    /// When the space last had a message; `None` leaves `lastActiveTime` out.
    pub last_active_time: Option<String>,
    /// Keyed by the `{member}` part of the membership name, which is also the
    /// listing order.
    pub memberships: BTreeMap<String, Membership>,
}

impl Space {
    /// Counts the joined owners (`ROLE_MANAGER`).
    pub fn owner_count(&self) -> usize {
        self.memberships.values().filter(|m| m.is_owner()).count()
    }

    /// Checks whether `key` names a joined owner of this space.
    pub fn is_owner(&self, key: &str) -> bool {
        self.memberships.get(key).is_some_and(Membership::is_owner)
    }
}

/// The emulator's state file, parsed and validated: the bearer tokens it
/// accepts and the callers they stand for, the organisation's directory,
/// the spaces with their memberships, and the quota and fault settings.
#[derive(Debug, Clone)]
pub struct EmulatorState {
    pub(crate) tokens: Vec<String>,
    /// Keyed by token; every entry of `tokens` is here.
    pub(crate) callers: HashMap<String, Caller>,
    pub(crate) quotas: QuotaSettings,
    pub(crate) faults: FaultSettings,
    pub(crate) show_emails: bool,
    pub(crate) users: BTreeMap<String, User>,
    /// Lower-cased email to user id.
    pub(crate) user_ids_by_email: HashMap<String, String>,
    pub(crate) groups: BTreeSet<String>,
    /// User ids listed under each group's `members`, keyed by group id.
    pub(crate) group_members: BTreeMap<String, Vec<String>>,
    /// Keyed by the `{space}` part of `spaces/{space}`.
    pub(crate) spaces: BTreeMap<String, Space>,
    /// Keyed by lower-cased client email.
    pub(crate) service_accounts: HashMap<String, ServiceAccount>,
    /// Installed-app clients, keyed by client id.
    pub(crate) oauth_clients: HashMap<String, OAuthClient>,
    /// Ids of the users marked `admin`.
    pub(crate) admins: BTreeSet<String>,
    /// How long a token from the token endpoint stays valid.
    pub(crate) token_lifetime: std::time::Duration,
}

/// Parser options: strict booleans, and a node budget large enough for a
/// benchmark organisation. The parser's default of 250,000 nodes stops at
/// about 80,000 memberships (three nodes each); 20,000,000 allows several
/// million, while the other defaults still stop alias bombs.
fn state_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 20_000_000;
    budget.max_events = 40_000_000;

    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.budget = Some(budget);
    options
}

impl EmulatorState {
    /// Parses YAML state text; see the module documentation for the checks.
    pub(crate) fn parse_text(text: &str) -> anyhow::Result<Self> {
        let file: StateFile = serde_saphyr::from_str_with_options(text, state_options())
            .map_err(|error| anyhow::anyhow!(describe_syntax_error(&error, text)))?;
        Self::from_file(file)
    }

    /// Returns the bearer tokens the emulator accepts: those of `tokens`,
    /// then those of `callers`, in file order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Returns the user ids the state file lists under a group's `members`
    /// (`group` is the id after `groups/`); empty for an unknown group.
    pub fn group_members(&self, group: &str) -> &[String] {
        self.group_members.get(group).map_or(&[], Vec::as_slice)
    }

    /// Returns the caller a token stands for.
    pub fn caller(&self, token: &str) -> Option<&Caller> {
        self.callers.get(token)
    }

    /// The quotas: the state file's `quotas:` section, or none.
    pub fn quotas(&self) -> &QuotaSettings {
        &self.quotas
    }

    /// Replaces the quotas, for example with ones given on the command line.
    pub fn set_quotas(&mut self, quotas: QuotaSettings) {
        self.quotas = quotas;
    }

    /// The latency and fault settings: the state file's `faults:` section.
    pub fn faults(&self) -> &FaultSettings {
        &self.faults
    }

    /// Replaces the latency and fault settings after checking them.
    pub fn set_faults(&mut self, faults: FaultSettings) -> anyhow::Result<()> {
        faults.check()?;
        self.faults = faults;
        Ok(())
    }

    /// Finds a user by email, ignoring case.
    pub(crate) fn user_by_email(&self, email: &str) -> Option<&User> {
        let id = self.user_ids_by_email.get(&email.to_lowercase())?;
        self.users.get(id)
    }

    fn from_file(file: StateFile) -> anyhow::Result<Self> {
        let mut problems = Problems::default();
        let loaded_at = now_rfc3339();

        let mut tokens = Vec::new();
        for token in &file.tokens {
            if token.value.is_empty() || token.value.chars().any(char::is_whitespace) {
                problems.add(token, "a token must be non-empty and contain no whitespace");
            } else {
                tokens.push(token.value.clone());
            }
        }
        if file.tokens.is_empty()
            && file.callers.is_empty()
            && file.service_accounts.is_empty()
            && file.oauth_clients.is_empty()
        {
            problems.plain(
                "`tokens`, `callers`, `service_accounts` and `oauth_clients` are all empty; list at least one bearer token or OAuth client",
            );
        }
        let mut callers: HashMap<String, Caller> = tokens
            .iter()
            .map(|token| (token.clone(), Caller::default_caller()))
            .collect();

        let mut users = BTreeMap::new();
        let mut user_ids_by_email = HashMap::new();
        let mut admins = BTreeSet::new();
        for user in file.users {
            let id = user.id.value.clone();
            if user.admin {
                admins.insert(id.clone());
            }
            if !is_numeric_id(&id) {
                problems.add(&user.id, format!("user id {id:?} must be digits only"));
            }
            if !is_email(&user.email.value) {
                problems.add(&user.email, format!("invalid email {:?}", user.email.value));
            }
            let email_key = user.email.value.to_lowercase();
            if user_ids_by_email.insert(email_key, id.clone()).is_some() {
                let message = format!("duplicate user email {:?}", user.email.value);
                problems.add(&user.email, message);
            }
            let record = User {
                id: id.clone(),
                display_name: user
                    .display_name
                    .unwrap_or_else(|| user.email.value.clone()),
                email: user.email.value,
                user_type: user.user_type,
                affiliation: user.affiliation,
                auto_accept: user.auto_accept,
            };
            if users.insert(id.clone(), record).is_some() {
                problems.add(&user.id, format!("duplicate user id {id:?}"));
            }
        }

        let mut groups = BTreeSet::new();
        let mut group_members = BTreeMap::new();
        for group in &file.groups {
            let id = &group.id.value;
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                problems.add(
                    &group.id,
                    format!("group id {id:?} must be letters and digits"),
                );
            } else if users.contains_key(id) {
                let message =
                    format!("group id {id:?} is also a user id; member ids must be unique");
                problems.add(&group.id, message);
            }
            if !groups.insert(id.clone()) {
                problems.add(&group.id, format!("duplicate group id {id:?}"));
            }
            let mut members = Vec::with_capacity(group.members.len());
            for member in &group.members {
                if !users.contains_key(&member.value) {
                    let message = format!(
                        "group {id:?}: member {:?} is not listed under `users`",
                        member.value
                    );
                    problems.add(member, message);
                } else if members.contains(&member.value) {
                    let message =
                        format!("group {id:?}: member {:?} is listed twice", member.value);
                    problems.add(member, message);
                } else {
                    members.push(member.value.clone());
                }
            }
            group_members.insert(id.clone(), members);
        }

        for caller in &file.callers {
            let token = &caller.token.value;
            if token.is_empty() || token.chars().any(char::is_whitespace) {
                problems.add(
                    &caller.token,
                    "a token must be non-empty and contain no whitespace",
                );
                continue;
            }
            if let Some(record) = check_caller(caller, &users, &mut problems) {
                if callers.insert(token.clone(), record).is_some() {
                    problems.add(
                        &caller.token,
                        "this token is listed twice under `tokens` or `callers`",
                    );
                }
                tokens.push(token.clone());
            }
        }

        let mut quotas = QuotaSettings::unlimited();
        if let Some(section) = &file.quotas {
            quotas = QuotaSettings::google();
            for (bucket, value) in section {
                if let Err(error) = quotas.apply(&format!("{bucket}={}", value.value)) {
                    problems.add(value, format!("{error:#}"));
                }
            }
        }

        let mut faults = FaultSettings::default();
        if let Some(section) = &file.faults {
            faults.seed = section.seed;
            for (method, settings) in &section.methods {
                for (name, value) in settings.settings() {
                    if let Err(error) = faults.apply(&format!("{method}:{name}={value}")) {
                        problems.plain(format!("faults: {error:#}"));
                    }
                }
            }
        }

        let mut service_accounts = HashMap::new();
        for account in file.service_accounts {
            match check_service_account(account, &users) {
                Ok((email, account)) => {
                    if service_accounts.insert(email.clone(), account).is_some() {
                        problems.plain(format!("service account {email} is listed twice"));
                    }
                }
                Err(problem) => problems.plain(problem),
            }
        }
        let mut oauth_clients = HashMap::new();
        for client in file.oauth_clients {
            match check_oauth_client(client) {
                Ok((id, client)) => {
                    if oauth_clients.insert(id.clone(), client).is_some() {
                        problems.plain(format!("oauth client {id} is listed twice"));
                    }
                }
                Err(problem) => problems.plain(problem),
            }
        }
        let token_lifetime = match &file.token_lifetime {
            None => DEFAULT_TOKEN_LIFETIME,
            Some(seconds) if seconds.value == 0 => {
                problems.add(seconds, "token_lifetime must be at least 1 second");
                DEFAULT_TOKEN_LIFETIME
            }
            Some(seconds) => std::time::Duration::from_secs(seconds.value),
        };

        let mut state = EmulatorState {
            oauth_clients,
            service_accounts,
            admins,
            token_lifetime,
            tokens,
            callers,
            quotas,
            faults,
            show_emails: file.show_emails,
            users,
            user_ids_by_email,
            groups,
            group_members,
            spaces: BTreeMap::new(),
        };
        for space in file.spaces {
            state.add_space(space, &loaded_at, &mut problems);
        }

        problems.into_result()?;
        Ok(state)
    }

    fn add_space(&mut self, space: SpaceFile, loaded_at: &str, problems: &mut Problems) {
        let name = &space.name.value;
        let Some(id) = name.strip_prefix("spaces/").filter(|id| is_space_id(id)) else {
            let message = format!("space name {name:?} must look like spaces/AAAAxyz");
            problems.add(&space.name, message);
            return;
        };
        if self.spaces.contains_key(id) {
            problems.add(&space.name, format!("duplicate space {name}"));
            return;
        }

        let mut memberships = BTreeMap::new();
        for membership in space.memberships {
            let context = SpaceContext {
                name,
                space_type: space.space_type,
            };
            if let Some((key, record)) =
                self.check_membership(membership, &context, loaded_at, problems)
            {
                if memberships.contains_key(&key) {
                    problems.plain(format!("{name}: member {key:?} is listed twice"));
                }
                memberships.insert(key, record);
            }
        }

        let space_record = Space {
            display_name: space.display_name,
            space_type: space.space_type,
            create_time: checked_time(space.create_time.as_ref(), loaded_at, problems),
            last_active_time: space
                .last_active_time
                .as_ref()
                .map(|time| checked_time(Some(time), loaded_at, problems)),
            memberships,
        };
        self.spaces.insert(id.to_string(), space_record);
    }

    /// Validates one membership of a space and returns its key and record,
    /// or `None` (with the problem recorded) when it cannot be built.
    fn check_membership(
        &self,
        membership: MembershipFile,
        space: &SpaceContext<'_>,
        loaded_at: &str,
        problems: &mut Problems,
    ) -> Option<(String, Membership)> {
        let name = space.name;
        let role = membership.role.as_ref().map(|role| role.value);
        let state = membership.state.as_ref().map(|state| state.value);
        let create_time = checked_time(membership.create_time.as_ref(), loaded_at, problems);

        match (membership.user, membership.group) {
            (Some(user), None) => {
                let id = user.value.clone();
                if !self.users.contains_key(&id) {
                    let message = format!("{name}: user {id:?} is not listed under `users`");
                    problems.add(&user, message);
                    return None;
                }
                let role = role.unwrap_or(Role::RoleMember);
                let state = state.unwrap_or(MembershipState::Joined);
                if role == Role::Unspecified {
                    let message = format!("{name}: user {id:?} needs a role such as ROLE_MEMBER");
                    problems.add(&user, message);
                }
                if space.space_type != SpaceType::Space && role != Role::RoleMember {
                    let message = format!(
                        "{name}: role {} is not possible in a {}; only SPACE has owners and managers",
                        role.as_str(),
                        space.space_type.as_str()
                    );
                    problems.add(&user, message);
                }
                if state == MembershipState::NotAMember {
                    let message = format!(
                        "{name}: user {id:?} has state NOT_A_MEMBER; remove the entry instead"
                    );
                    problems.add(&user, message);
                }
                if state == MembershipState::Invited && role != Role::RoleMember {
                    let message = format!("{name}: invited user {id:?} must have role ROLE_MEMBER");
                    problems.add(&user, message);
                }
                let record = Membership {
                    member: Member::User(id.clone()),
                    role,
                    state,
                    create_time,
                };
                Some((id, record))
            }
            (None, Some(group)) => {
                let id = group.value.clone();
                if !self.groups.contains(&id) {
                    let message = format!("{name}: group {id:?} is not listed under `groups`");
                    problems.add(&group, message);
                    return None;
                }
                if role.is_some_and(|role| role != Role::Unspecified) {
                    let message = format!("{name}: group {id:?} cannot have a role; remove `role`");
                    problems.add(&group, message);
                }
                if state.is_some_and(|state| state != MembershipState::Joined) {
                    let message = format!("{name}: group {id:?} can only be JOINED");
                    problems.add(&group, message);
                }
                if space.space_type != SpaceType::Space {
                    let message = format!("{name}: groups can only be members of a SPACE");
                    problems.add(&group, message);
                }
                let record = Membership {
                    member: Member::Group(id.clone()),
                    role: Role::Unspecified,
                    state: MembershipState::Joined,
                    create_time,
                };
                Some((id, record))
            }
            _ => {
                problems.plain(format!(
                    "{name}: each membership needs exactly one of `user` or `group`"
                ));
                None
            }
        }
    }
}

/// Validates one entry of `callers`.
fn check_caller(
    caller: &CallerFile,
    users: &BTreeMap<String, User>,
    problems: &mut Problems,
) -> Option<Caller> {
    let Some(user) = &caller.user else {
        problems.add(
            &caller.token,
            format!(
                "a {} caller needs `user`, the id of its user in `users`",
                caller.kind.as_str()
            ),
        );
        return None;
    };
    let Some(record) = users.get(&user.value) else {
        problems.add(
            user,
            format!("caller user {:?} is not listed under `users`", user.value),
        );
        return None;
    };
    let expected = match caller.kind {
        CallerKind::App => UserType::Bot,
        CallerKind::User | CallerKind::Admin => UserType::Human,
    };
    if record.user_type != expected {
        problems.add(
            user,
            format!(
                "a {} caller must be a user of type {}, and {:?} is {}",
                caller.kind.as_str(),
                expected.as_str(),
                user.value,
                record.user_type.as_str()
            ),
        );
    }
    let mut scopes = BTreeSet::new();
    for scope in &caller.scopes {
        let short = short_scope(&scope.value);
        if !ALL_SCOPES.contains(&short) {
            problems.add(
                scope,
                format!(
                    "unknown scope {:?}; expected one of {}",
                    scope.value,
                    ALL_SCOPES.join(", ")
                ),
            );
        }
        scopes.insert(short.to_string());
    }
    Some(Caller {
        kind: caller.kind,
        user: Some(user.value.clone()),
        scopes,
    })
}

struct SpaceContext<'a> {
    name: &'a str,
    space_type: SpaceType,
}

/// Returns the timestamp from the file, or `default` when it is absent.
fn checked_time(time: Option<&Spanned<String>>, default: &str, problems: &mut Problems) -> String {
    match time {
        None => default.to_string(),
        Some(time) => {
            if !is_rfc3339(&time.value) {
                let message = format!(
                    "invalid timestamp {:?}; use RFC 3339 such as 2021-01-04T09:00:00Z",
                    time.value
                );
                problems.add(time, message);
            }
            time.value.clone()
        }
    }
}

/// Validation problems, collected so that one run reports them all.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add<T>(&mut self, at: &Spanned<T>, message: impl AsRef<str>) {
        let line = at.referenced.line();
        self.0.push(format!("line {line}: {}", message.as_ref()));
    }

    fn plain(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    fn into_result(self) -> anyhow::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        anyhow::bail!("{}", self.0.join("\n"))
    }
}

pub(crate) fn is_numeric_id(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn is_space_id(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub(crate) fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !text.contains(char::is_whitespace)
                && !text.contains('/')
        }
        None => false,
    }
}

/// Renders a YAML error as one line, `line L column C: message, at "SOURCE
/// LINE"`. The crate's own `Display` adds an `error:` prefix and a snippet
/// labelled `<input>`, which reads badly after the file name the caller
/// prepends; quoting the line keeps the key name the message may lack.
fn describe_syntax_error(error: &serde_saphyr::Error, text: &str) -> String {
    use serde_saphyr::{MessageFormatter, UserMessageFormatter};

    let message = UserMessageFormatter.format_message(error);
    let Some(location) = error.location() else {
        return message.to_string();
    };
    let line = location.line();
    let source = usize::try_from(line)
        .ok()
        .and_then(|line| text.lines().nth(line.checked_sub(1)?))
        .map(|source| source.trim().escape_debug().to_string());
    match source {
        Some(source) if !source.is_empty() => format!(
            "line {line} column {}: {message}, at \"{source}\"",
            location.column()
        ),
        _ => format!("line {line} column {}: {message}", location.column()),
    }
}
