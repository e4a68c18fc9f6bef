//! Decoding API responses: any bytes, as the body of a spaces.get,
//! members.get, members.list or spaces.list answer, or of an error answer,
//! must decode or fail with a typed error, never panic.

#![cfg_attr(fuzzing, no_main)]

fn check(data: &[u8]) {
    let _ = chat_reconcile::chat::decode_every_response(data);
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

#[cfg(not(fuzzing))]
fn main() {
    fuzz_driver::run("api_decode", check);
}
