//! Emulator state files: any text must load or fail with a message, never
//! panic, since `chat-reconcile emulator --state` reads files people write.

#![cfg_attr(fuzzing, no_main)]

fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = chat_reconcile::emulator::EmulatorState::parse(text) {
        let _ = format!("{error:#}");
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

#[cfg(not(fuzzing))]
fn main() {
    fuzz_driver::run("emulator_state", check);
}
