//! The driver of the fuzz targets when they are built as plain binaries
//! (without `cargo fuzz`, which needs a nightly compiler): it replays every
//! corpus file, then mutates them at random for a number of iterations.
//! Not coverage-guided, so it finds less than libFuzzer does, but it runs on
//! a stable toolchain and in CI.
//!
//! Usage: `TARGET [--iterations N] [--seed N] [PATH...]`, where each PATH is a
//! corpus file or directory (default `fuzz/corpus/TARGET`).

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Runs `check` over the corpus and over `--iterations` mutations of it.
pub fn run(target: &str, check: fn(&[u8])) {
    let mut iterations: u64 = 10_000;
    let mut seed: u64 = 1;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--iterations" => iterations = number(args.next(), "--iterations"),
            "--seed" => seed = number(args.next(), "--seed"),
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    if paths.is_empty() {
        paths.push(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("corpus")
                .join(target),
        );
    }

    let mut corpus = Vec::new();
    for path in &paths {
        collect(path, &mut corpus);
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let started = Instant::now();
    for input in &corpus {
        check(input);
    }

    let mut rng = Rng(seed.max(1));
    let mut input = Vec::new();
    for iteration in 0..iterations {
        input.clear();
        input.extend_from_slice(&corpus[rng.below(corpus.len())]);
        for _ in 0..=rng.below(8) {
            mutate(&mut input, &corpus, &mut rng);
        }
        if std::env::var_os("FUZZ_SHOW").is_some() {
            eprintln!("{iteration}: {:?}", String::from_utf8_lossy(&input));
        }
        check(&input);
    }
    eprintln!(
        "{target}: {} corpus inputs and {iterations} mutations (seed {seed}) in {:.1} s, no panic",
        corpus.len(),
        started.elapsed().as_secs_f64()
    );
}

fn number(value: Option<String>, flag: &str) -> u64 {
    value
        .and_then(|value| value.replace('_', "").parse().ok())
        .unwrap_or_else(|| panic!("{flag} needs a number"))
}

fn collect(path: &Path, corpus: &mut Vec<Vec<u8>>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for entry in entries {
            collect(&entry, corpus);
        }
    } else {
        corpus.push(
            std::fs::read(path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display())),
        );
    }
}

/// xorshift64: small, seeded and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

/// Bytes that matter to YAML and JSON, inserted more often than others.
const SPECIAL: &[&[u8]] = &[
    b"\n",
    b" ",
    b"  ",
    b"\t",
    b":",
    b": ",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"\"",
    b"'",
    b"&a ",
    b"*a",
    b"!!str ",
    b"---\n",
    b"#",
    b"\\u0000",
    b"\\",
    b"null",
    b"true",
    b"1e999",
    b"-1",
    b"18446744073709551616",
    b"@",
    b"users/",
    b"groups/",
    b"spaces/",
    b"\xff",
    b"\0",
];

fn mutate(input: &mut Vec<u8>, corpus: &[Vec<u8>], rng: &mut Rng) {
    let at = rng.below(input.len() + 1);
    match rng.below(6) {
        0 if !input.is_empty() => {
            let end = (at + 1 + rng.below(16)).min(input.len());
            input.drain(at.min(end)..end);
        }
        1 => {
            let token = SPECIAL[rng.below(SPECIAL.len())];
            input.splice(at..at, token.iter().copied());
        }
        2 if !input.is_empty() => {
            let index = rng.below(input.len());
            input[index] = rng.next() as u8;
        }
        3 => {
            // Splice in a piece of another corpus input.
            let other = &corpus[rng.below(corpus.len())];
            if !other.is_empty() {
                let start = rng.below(other.len());
                let end = (start + 1 + rng.below(64)).min(other.len());
                input.splice(at..at, other[start..end].iter().copied());
            }
        }
        4 if !input.is_empty() => {
            // Repeat a slice, which grows lists and nesting.
            let start = rng.below(input.len());
            let end = (start + 1 + rng.below(32)).min(input.len());
            let piece = input[start..end].to_vec();
            for _ in 0..=rng.below(4) {
                input.splice(at..at, piece.iter().copied());
            }
        }
        _ => {
            let token = SPECIAL[rng.below(SPECIAL.len())];
            input.extend_from_slice(token);
        }
    }
}
