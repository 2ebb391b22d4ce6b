//! Gatehouse's patch: the ranked dictionaries, sorted at compile time.
//!
//! Each `data/<name>.txt` is a comma-separated word list in rank order (rank 1 first). This
//! writes into OUT_DIR `<name>.words` (the words sorted bytewise, each ended by 0x00, front-coded:
//! the first word of every block of 32 in full, each other as the length of the prefix it shares
//! with the word before, one byte, then the rest of it),
//! `<name>.ranks` (their ranks, u16, planar) and `<name>.index` (the offset of every 32nd
//! word, u32 LE). `frequency_lists::Ranked` searches them in place: no set-up at run time (upstream
//! builds six HashMaps of 94,000 words on first use).

use std::path::Path;

/// Entries per block of the sparse index (frequency_lists::BLOCK).
const BLOCK: usize = 32;
/// The longest word a list may hold (frequency_lists::MAX_WORD).
const MAX_WORD: usize = 128;

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
        // The words, each ended by 0x00; the ranks in the same order, planar (every high byte,
        // then every low byte: it compresses better); the byte offset of every BLOCK-th word.
        let (mut text, mut high, mut low, mut index) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, (word, rank)) in words.iter().enumerate() {
            assert!(*rank <= usize::from(u16::MAX), "{name}: rank {rank} does not fit two bytes");
            assert!(!word.is_empty() && !word.as_bytes().contains(&0), "{name}: bad word {word:?}");
            assert!(word.len() <= MAX_WORD, "{name}: {word:?} is longer than {MAX_WORD} bytes");
            if i % BLOCK == 0 {
                index.extend_from_slice(&u32::try_from(text.len()).expect("small lists").to_le_bytes());
                text.extend_from_slice(word.as_bytes());
            } else {
                let before = words[i - 1].0.as_bytes();
                let shared = before.iter().zip(word.as_bytes()).take_while(|(a, b)| a == b).count();
                text.push(u8::try_from(shared).expect("MAX_WORD fits a byte"));
                text.extend_from_slice(&word.as_bytes()[shared..]);
            }
            text.push(0);
            high.push((rank >> 8) as u8);
            low.push(*rank as u8);
        }
        high.extend_from_slice(&low);
        let dir = Path::new(&out);
        std::fs::write(dir.join(format!("{name}.words")), text).expect("OUT_DIR is writable");
        std::fs::write(dir.join(format!("{name}.ranks")), high).expect("OUT_DIR is writable");
        std::fs::write(dir.join(format!("{name}.index")), index).expect("OUT_DIR is writable");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
