//! Shell completions and the manual page, generated from the clap
//! definitions by the real binary.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_chat-reconcile");

fn stdout_of(args: &[&str]) -> String {
    let output = Command::new(BINARY)
        .args(args)
        .output()
        .expect("binary runs");
    assert!(
        output.status.success(),
        "{args:?} exited {:?}",
        output.status.code()
    );
    String::from_utf8(output.stdout).expect("output is UTF-8")
}

#[test]
fn completions_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        for command in ["plan", "apply", "offboard", "export", "emulator"] {
            assert!(script.contains(command), "{shell} script lacks {command}");
        }
    }
}

#[test]
fn completions_know_policy_flag() {
    let script = stdout_of(&["completions", "bash"]);
    assert!(script.contains("--policy"), "bash script lacks --policy");
}

#[test]
fn man_page_is_roff() {
    let page = stdout_of(&["man"]);
    assert!(
        page.contains(".TH chat-reconcile 1"),
        "no title line:\n{page}"
    );
    assert!(page.contains(".SH NAME"), "no NAME section");
    assert!(page.contains("offboard"), "the page does not list offboard");
}

#[test]
fn unknown_shell_is_usage_error() {
    let output = Command::new(BINARY)
        .args(["completions", "tcsh"])
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
}
