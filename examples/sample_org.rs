//! Generates the sample organisation: `examples/sample-org.yaml` (an emulator
//! state) and `policies/example.yaml` (a policy for it).
//!
//! Run from the repository root: `cargo run --example sample_org`.
//! The output is deterministic, so the committed files can be regenerated
//! and compared.

use std::fmt::Write as _;
use std::fs;

const FIRST_NAMES: &[&str] = &[
    "amara", "bruno", "chen", "dalia", "emeka", "farah", "goran", "hana", "ines", "jonas", "kavya",
    "lars", "mei", "nadia", "oskar", "priya", "quinn", "rafael", "sofia", "tariq", "uma", "viktor",
    "wen", "ximena", "yusuf", "zara",
];
const LAST_NAMES: &[&str] = &[
    "adeyemi", "bauer", "costa", "dubois", "eriksen", "fischer", "garcia", "haddad", "ito",
    "jensen", "kowalski", "lopez",
];

/// Deterministic xorshift generator, so the sample never changes by accident.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct User {
    id: String,
    email: String,
    display_name: String,
    bot: bool,
    external: bool,
    auto_accept: bool,
}

struct Membership {
    user: Option<usize>,
    group: Option<&'static str>,
    role: &'static str,
    invited: bool,
    create_time: String,
}

struct Space {
    id: String,
    display_name: String,
    space_type: &'static str,
    memberships: Vec<Membership>,
}

const OWNER: &str = "ROLE_MANAGER";
const MANAGER: &str = "ROLE_ASSISTANT_MANAGER";
const MEMBER: &str = "ROLE_MEMBER";

fn timestamp(day: usize) -> String {
    // Days after 2019-01-01, kept within 28-day months for simplicity.
    let year = 2019 + day / 336;
    let month = 1 + (day % 336) / 28;
    let day_of_month = 1 + day % 28;
    format!("{year}-{month:02}-{day_of_month:02}T09:00:00Z")
}

fn build_users() -> Vec<User> {
    let mut users = Vec::new();
    let mut push =
        |email: String, display_name: String, bot: bool, external: bool, auto_accept: bool| {
            let id = format!("1{:020}", 3_100_000 + users.len() * 7);
            users.push(User {
                id,
                email,
                display_name,
                bot,
                external,
                auto_accept,
            });
        };

    // Named people the example policy refers to. Their index is their id order.
    for (email, name) in [
        ("grace.hopper@example.com", "Grace Hopper"), // 0: CEO, protected
        ("ivan.admin@example.com", "Ivan Admin"),     // 1: IT admin, global successor
        ("dave.departed@example.com", "Dave Departed"), // 2: offboarded
        ("erin.leaving@example.com", "Erin Leaving"), // 3: offboarded
        ("heidi.lead@example.com", "Heidi Lead"),     // 4: new owner of Platform Team
        ("judy.next@example.com", "Judy Next"),       // 5: successor in Release Train
        ("frank.oncall@example.com", "Frank Oncall"), // 6: successor in Incident Response
        ("olivia.new@example.com", "Olivia New"),     // 7: joins Engineering All-Hands
    ] {
        push(email.to_string(), name.to_string(), false, false, true);
    }
    for first in FIRST_NAMES {
        for last in LAST_NAMES {
            let email = format!("{first}.{last}@example.com");
            let name = format!("{} {}", capitalise(first), capitalise(last));
            push(email, name, false, false, true);
        }
    }
    for index in 0..8 {
        let email = format!("partner{index}@partner.example.net");
        push(email, format!("Partner {index}"), false, true, true);
    }
    for index in 0..6 {
        let email = format!("newhire{index}@example.com");
        push(email, format!("New Hire {index}"), false, false, false);
    }
    for name in ["Build Bot", "Pager Bot", "Standup Bot"] {
        let email = format!(
            "{}@system.example.com",
            name.to_lowercase().replace(' ', "-")
        );
        push(email, name.to_string(), true, false, true);
    }
    users
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn space_id(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::from("spaces/AAAA");
    for _ in 0..7 {
        id.push(ALPHABET[rng.below(ALPHABET.len())] as char);
    }
    id
}

fn member(user: usize, role: &'static str, day: usize) -> Membership {
    Membership {
        user: Some(user),
        group: None,
        role,
        invited: false,
        create_time: timestamp(day),
    }
}

/// Fills a space with `count` ordinary people drawn from the staff pool.
fn add_staff(space: &mut Space, rng: &mut Rng, users: &[User], count: usize) {
    let staff: Vec<usize> = (8..users.len())
        .filter(|&i| !users[i].bot && !users[i].external)
        .collect();
    while space.memberships.len() < count {
        let user = staff[rng.below(staff.len())];
        if space.memberships.iter().any(|m| m.user == Some(user)) {
            continue;
        }
        let role = if space.space_type == "SPACE" && rng.below(12) == 0 {
            MANAGER
        } else {
            MEMBER
        };
        let invited = !users[user].auto_accept;
        let mut membership = member(user, role, 100 + rng.below(1500));
        membership.invited = invited;
        space.memberships.push(membership);
    }
}

fn build_spaces(rng: &mut Rng, users: &[User]) -> Vec<Space> {
    let mut spaces = Vec::new();
    let new_space = |rng: &mut Rng, name: &str, space_type: &'static str| Space {
        id: space_id(rng),
        display_name: name.to_string(),
        space_type,
        memberships: Vec::new(),
    };
    let bot = |name: &str| users.iter().position(|u| u.display_name == name).unwrap();

    // Dave is the only owner; the policy names Heidi as the new owner.
    let mut platform = new_space(rng, "Platform Team", "SPACE");
    platform.memberships.push(member(2, OWNER, 10));
    platform.memberships.push(member(4, MEMBER, 40));
    platform
        .memberships
        .push(member(bot("Build Bot"), MEMBER, 50));
    add_staff(&mut platform, rng, users, 48);
    spaces.push(platform);

    // Dave is the only owner; the space's own successors list names Judy.
    let mut release = new_space(rng, "Release Train", "SPACE");
    release.memberships.push(member(2, OWNER, 12));
    release.memberships.push(member(5, MEMBER, 60));
    add_staff(&mut release, rng, users, 40);
    spaces.push(release);

    // Dave is the only owner; the global successors list names Ivan.
    let mut design = new_space(rng, "Design Reviews", "SPACE");
    design.memberships.push(member(2, OWNER, 14));
    design.memberships.push(member(1, MEMBER, 70));
    add_staff(&mut design, rng, users, 35);
    spaces.push(design);

    // Both owners leave; the space's successors list names Frank.
    let mut incident = new_space(rng, "Incident Response", "SPACE");
    incident.memberships.push(member(2, OWNER, 16));
    incident.memberships.push(member(3, OWNER, 18));
    incident.memberships.push(member(6, MEMBER, 80));
    incident
        .memberships
        .push(member(bot("Pager Bot"), MEMBER, 90));
    add_staff(&mut incident, rng, users, 30);
    spaces.push(incident);

    // Dave is the only owner and no list names anyone present: the
    // longest-standing manager takes over (the policy allows the fallback).
    let mut escalations = new_space(rng, "Customer Escalations", "SPACE");
    escalations.memberships.push(member(2, OWNER, 20));
    add_staff(&mut escalations, rng, users, 42);
    escalations.memberships[1].role = MANAGER;
    escalations.memberships[1].create_time = timestamp(30);
    spaces.push(escalations);

    // Additive: new people, a group, a promotion; the display name differs.
    let mut all_hands = new_space(rng, "Engineering All Hands", "SPACE");
    all_hands.memberships.push(member(0, OWNER, 5));
    all_hands.memberships.push(member(2, MEMBER, 22));
    add_staff(&mut all_hands, rng, users, 90);
    spaces.push(all_hands);

    // Exact: an external partner and a stray member are removed, a bot stays.
    let mut security = new_space(rng, "Security Council", "SPACE");
    security.memberships.push(member(0, OWNER, 6));
    security.memberships.push(member(1, OWNER, 7));
    security.memberships.push(member(3, MANAGER, 24));
    security
        .memberships
        .push(member(bot("Standup Bot"), MEMBER, 95));
    let partner = users.iter().position(|u| u.external).unwrap();
    security.memberships.push(member(partner, MEMBER, 300));
    security.memberships.push(Membership {
        user: None,
        group: Some("0sec4ops2"),
        role: "MEMBERSHIP_ROLE_UNSPECIFIED",
        invited: false,
        create_time: timestamp(310),
    });
    add_staff(&mut security, rng, users, 20);
    spaces.push(security);

    // Dave is the only owner and nobody else is a joined internal human:
    // there is no successor. The example policy leaves this space out; the
    // `no-successor.yaml` policy shows the blocked removal.
    let mut archive = new_space(rng, "Legacy Archive", "SPACE");
    archive.memberships.push(member(2, OWNER, 8));
    archive
        .memberships
        .push(member(bot("Build Bot"), MEMBER, 9));
    let partner = users.iter().rposition(|u| u.external).unwrap();
    archive.memberships.push(member(partner, MEMBER, 400));
    spaces.push(archive);

    // Team spaces the example policy does not name: never touched.
    for (index, team) in [
        "Data Platform",
        "Mobile",
        "Web Frontend",
        "Billing",
        "Search",
        "Identity",
        "Networking",
        "Storage",
        "Observability",
        "Developer Experience",
        "QA Guild",
        "Docs",
        "Marketing",
        "Sales EMEA",
        "Sales APAC",
        "Sales Americas",
        "Support Tier 1",
        "Support Tier 2",
        "People Ops",
        "Finance",
        "Legal",
        "Facilities",
        "Recruiting",
        "Product Council",
        "Architecture Forum",
        "Hack Week",
        "Interns 2026",
        "Book Club",
    ]
    .iter()
    .enumerate()
    {
        let mut space = new_space(rng, team, "SPACE");
        let owner = 8 + rng.below(200);
        space.memberships.push(member(owner, OWNER, 30 + index));
        if index % 3 == 0 {
            space.memberships.push(member(2, MEMBER, 200 + index));
        }
        if index % 5 == 0 {
            space
                .memberships
                .push(member(bot("Standup Bot"), MEMBER, 210 + index));
        }
        let size = 25 + rng.below(40);
        add_staff(&mut space, rng, users, size);
        spaces.push(space);
    }

    // Group chats: Dave leaves one the policy names.
    for (index, name) in ["", "", "", "", ""].iter().enumerate() {
        let mut chat = new_space(rng, name, "GROUP_CHAT");
        if index == 0 {
            chat.memberships.push(member(2, MEMBER, 500));
        }
        add_staff(&mut chat, rng, users, 6);
        spaces.push(chat);
    }

    // Direct messages, including one with Dave (a DM cannot be left).
    for index in 0..4 {
        let mut dm = new_space(rng, "", "DIRECT_MESSAGE");
        let other = 20 + index * 11;
        dm.memberships.push(member(
            if index == 0 { 2 } else { 9 + index },
            MEMBER,
            600 + index,
        ));
        dm.memberships.push(member(other, MEMBER, 600 + index));
        spaces.push(dm);
    }
    spaces
}

fn write_state(users: &[User], spaces: &[Space]) -> String {
    let mut out = String::new();
    out.push_str("# Sample organisation for the chat-reconcile emulator.\n");
    out.push_str("# Generated by `cargo run --example sample_org`; do not edit by hand.\n");
    out.push_str("tokens: [demo-token]\nshow_emails: true\nusers:\n");
    for user in users {
        let _ = writeln!(
            out,
            "  - id: \"{}\"\n    email: {}\n    display_name: {}",
            user.id, user.email, user.display_name
        );
        if user.bot {
            out.push_str("    type: BOT\n");
        }
        if user.external {
            out.push_str("    affiliation: EXTERNAL\n");
        }
        if !user.auto_accept {
            out.push_str("    auto_accept: false\n");
        }
    }
    out.push_str("groups:\n  - id: \"0sec4ops2\"\n  - id: \"0eng7all1\"\nspaces:\n");
    for space in spaces {
        let _ = writeln!(out, "  - name: {}", space.id);
        if !space.display_name.is_empty() {
            let _ = writeln!(out, "    display_name: {}", space.display_name);
        }
        let _ = writeln!(
            out,
            "    type: {}\n    create_time: \"2019-01-01T09:00:00Z\"\n    memberships:",
            space.space_type
        );
        for membership in &space.memberships {
            match (membership.user, membership.group) {
                (Some(user), _) => {
                    let _ = write!(out, "      - user: \"{}\"", users[user].id);
                    if membership.role != MEMBER {
                        let _ = write!(out, "\n        role: {}", membership.role);
                    }
                    if membership.invited {
                        out.push_str("\n        state: INVITED");
                    }
                }
                (None, Some(group)) => {
                    let _ = write!(out, "      - group: \"{group}\"");
                }
                (None, None) => unreachable!("a membership has a user or a group"),
            }
            let _ = writeln!(out, "\n        create_time: \"{}\"", membership.create_time);
        }
    }
    out
}

fn find_space<'a>(spaces: &'a [Space], name: &str) -> &'a Space {
    spaces.iter().find(|s| s.display_name == name).unwrap()
}

fn emails_with_role(space: &Space, users: &[User], role: &str, skip: &[usize]) -> Vec<String> {
    space
        .memberships
        .iter()
        .filter(|m| m.role == role)
        .filter_map(|m| m.user)
        .filter(|u| !skip.contains(u) && !users[*u].bot)
        .map(|u| users[u].email.clone())
        .collect()
}

fn yaml_list(items: &[String]) -> String {
    if items.is_empty() {
        return " []".to_string();
    }
    let mut out = String::new();
    for item in items {
        let _ = write!(out, "\n      - {item}");
    }
    out
}

fn write_policy(users: &[User], spaces: &[Space]) -> String {
    let mut out = String::new();
    out.push_str(
        "# Example policy for the sample organisation (examples/sample-org.yaml).\n\
         # Generated by `cargo run --example sample_org`; do not edit by hand.\n\
         version: 1\n\n\
         # Never removed or demoted anywhere.\n\
         protect: [grace.hopper@example.com]\n\n\
         # Removed from every space this policy names.\n\
         offboard:\n  - dave.departed@example.com\n  - erin.leaving@example.com\n\n\
         # Tried in every space after the space's own successors.\n\
         successors: [ivan.admin@example.com]\n\n\
         # With no listed successor present, promote the longest-standing\n\
         # joined internal manager, then member.\n\
         successor_fallback: longest-standing\n\nspaces:\n",
    );

    // Exact: the policy names Heidi as the owner.
    let platform = find_space(spaces, "Platform Team");
    let members = emails_with_role(platform, users, MEMBER, &[2, 4]);
    let managers = emails_with_role(platform, users, MANAGER, &[2, 4]);
    let _ = write!(
        out,
        "  - space: {}\n    display_name: Platform Team\n    mode: exact\n    owners: [heidi.lead@example.com]\n    managers:{}\n    members:{}\n",
        platform.id,
        yaml_list(&managers),
        yaml_list(&members)
    );
    let build_bot = users
        .iter()
        .find(|u| u.display_name == "Build Bot")
        .unwrap();
    let _ = writeln!(out, "    keep: [users/{}]", build_bot.id);

    for (name, successors) in [
        ("Release Train", "[judy.next@example.com]"),
        ("Design Reviews", "[]"),
        ("Customer Escalations", "[]"),
    ] {
        let space = find_space(spaces, name);
        let _ = write!(
            out,
            "\n  - space: {}\n    display_name: {name}\n    mode: additive\n    successors: {successors}\n",
            space.id
        );
    }

    // Exact: both owners leave; the first successor is not in the space.
    let incident = find_space(spaces, "Incident Response");
    let members = emails_with_role(incident, users, MEMBER, &[2, 3]);
    let managers = emails_with_role(incident, users, MANAGER, &[2, 3]);
    let _ = write!(
        out,
        "\n  - space: {}\n    display_name: Incident Response\n    mode: exact\n    managers:{}\n    members:{}\n    successors: [olivia.new@example.com, frank.oncall@example.com]\n",
        incident.id,
        yaml_list(&managers),
        yaml_list(&members)
    );
    out.push_str("    # The Pager Bot app is not listed; apps are left alone unless listed.\n");

    // Additive: adds by email and by group, promotes a manager; the display
    // name in the policy is the old one, which gives a warning.
    let all_hands = find_space(spaces, "Engineering All Hands");
    let promoted = emails_with_role(all_hands, users, MEMBER, &[0, 2])
        .into_iter()
        .next()
        .unwrap();
    let _ = write!(
        out,
        "\n  - space: {}\n    display_name: Engineering All-Hands\n    mode: additive\n    owners: [grace.hopper@example.com]\n    managers: [{promoted}]\n    members: [olivia.new@example.com, groups/0eng7all1]\n",
        all_hands.id
    );

    // Exact: the partner and the stray members are removed; the group stays.
    let security = find_space(spaces, "Security Council");
    let keep_count = 8;
    let members: Vec<String> = emails_with_role(security, users, MEMBER, &[0, 1, 3])
        .into_iter()
        .filter(|e| !e.ends_with("partner.example.net"))
        .take(keep_count)
        .collect();
    let _ = write!(
        out,
        "\n  - space: {}\n    display_name: Security Council\n    mode: exact\n    owners: [grace.hopper@example.com, users/{}]\n    members:{}\n",
        security.id,
        users[1].id,
        yaml_list(&{
            let mut listed = members;
            listed.push("groups/0sec4ops2".to_string());
            listed
        })
    );

    // A group chat: Dave leaves it; nobody else changes.
    let chat = spaces
        .iter()
        .find(|s| s.space_type == "GROUP_CHAT")
        .unwrap();
    let _ = write!(out, "\n  - space: {}\n    mode: additive\n", chat.id);
    out
}

fn write_no_successor_policy(spaces: &[Space]) -> String {
    let archive = find_space(spaces, "Legacy Archive");
    format!(
        "# Offboards Dave from a space where nobody can take over as owner.\n\
         # The plan reports the removal as blocked; apply exits 4.\n\
         # Generated by `cargo run --example sample_org`; do not edit by hand.\n\
         version: 1\n\
         offboard: [dave.departed@example.com]\n\
         successor_fallback: longest-standing\n\
         spaces:\n  - space: {}\n    display_name: Legacy Archive\n    mode: additive\n",
        archive.id
    )
}

fn main() {
    let mut rng = Rng(0x5eed_c4a7_2026);
    let users = build_users();
    let spaces = build_spaces(&mut rng, &users);
    let memberships: usize = spaces.iter().map(|s| s.memberships.len()).sum();

    fs::write("examples/sample-org.yaml", write_state(&users, &spaces))
        .expect("write examples/sample-org.yaml");
    fs::write("policies/example.yaml", write_policy(&users, &spaces))
        .expect("write policies/example.yaml");
    fs::write(
        "policies/no-successor.yaml",
        write_no_successor_policy(&spaces),
    )
    .expect("write policies/no-successor.yaml");
    eprintln!(
        "{} users, {} spaces, {memberships} memberships",
        users.len(),
        spaces.len()
    );
}
