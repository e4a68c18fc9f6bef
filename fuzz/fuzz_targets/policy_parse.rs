//! Policy parsing: any bytes, read as a policy file's text, must give a
//! policy or errors with a position, never a panic or a hang.

#![cfg_attr(fuzzing, no_main)]

fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = chat_reconcile::policy::parse(text, "fuzz.yaml") {
        // Rendering the message must not panic either.
        let _ = error.to_string();
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

#[cfg(not(fuzzing))]
fn main() {
    fuzz_driver::run("policy_parse", check);
}
