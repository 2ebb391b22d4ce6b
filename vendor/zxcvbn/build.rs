//! Gatehouse's patch: the ranked dictionaries, sorted at compile time.
//!
//! Each `data/<name>.txt` is a comma-separated word list in rank order (rank 1 first). This
//! writes `<name>.bin` into OUT_DIR: the words sorted bytewise, each entry
//! `[rank, 2 bytes][word][0x00]`, the rank in base 255 with every digit + 1 so no rank byte is 0.
//! `frequency_lists::Ranked` binary-searches it in place: no set-up at run time (upstream
//! builds six HashMaps of 94,000 words on first use).

use std::path::Path;

const LISTS: [&str; 6] = ["passwords", "english_wiki", "female_names", "male_names", "surnames", "us_tv_and_film"];

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in LISTS {
        let path = format!("data/{name}.txt");
        println!("cargo:rerun-if-changed={path}");
        let text = std::fs::read_to_string(&path).expect("the word list is readable");
        let mut words: Vec<(&str, usize)> =
            text.trim_end_matches('\n').split(',').enumerate().map(|(i, w)| (w, i + 1)).collect();
        // A word listed twice keeps its last rank, as collecting into a HashMap did.
        words.sort_by(|a, b| a.0.cmp(b.0).then(b.1.cmp(&a.1)));
        words.dedup_by(|later, earlier| later.0 == earlier.0);
        let mut blob = Vec::with_capacity(text.len() + 3 * words.len());
        for (word, rank) in words {
            assert!(rank < 255 * 255, "{name}: rank {rank} does not fit two bytes");
            assert!(!word.is_empty() && !word.as_bytes().contains(&0), "{name}: bad word {word:?}");
            blob.push((rank / 255) as u8 + 1);
            blob.push((rank % 255) as u8 + 1);
            blob.extend_from_slice(word.as_bytes());
            blob.push(0);
        }
        std::fs::write(Path::new(&out).join(format!("{name}.bin")), blob).expect("OUT_DIR is writable");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
