//! The ranked dictionaries (Gatehouse's patch): sorted at compile time by build.rs and
//! searched in place, so the first estimate
//! pays no set-up (upstream collected six HashMaps on first use).

#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash, Default)]
#[cfg_attr(feature = "ser", derive(serde::Deserialize, serde::Serialize))]
pub enum DictionaryType {
    #[default]
    Passwords,
    English,
    FemaleNames,
    MaleNames,
    Surnames,
    UsTvAndFilm,
    UserInputs,
}

/// Entries per block of the sparse index (build.rs: BLOCK).
const BLOCK: usize = 32;

/// The longest word a list holds (build.rs: MAX_WORD).
const MAX_WORD: usize = 128;

/// One ranked word list, as build.rs wrote it: the sorted words (each ended by 0x00; the first
/// of every block of 32 in full, each other as a byte giving the length of the prefix it shares
/// with the word before, then the rest), their ranks (u16, every high byte then every low byte)
/// and the byte offset of every 32nd word.
#[derive(Clone, Copy)]
pub(crate) struct Ranked {
    words: &'static [u8],
    ranks: &'static [u8],
    index: &'static [u8],
}

impl Ranked {
    fn block_start(&self, block: usize) -> usize {
        let at = block * 4;
        u32::from_le_bytes([self.index[at], self.index[at + 1], self.index[at + 2], self.index[at + 3]]) as usize
    }

    fn word_at(&self, start: usize) -> &'static [u8] {
        let len = self.words[start..].iter().position(|&b| b == 0).unwrap_or(self.words.len() - start);
        &self.words[start..start + len]
    }

    /// The rank of `word` (1 = most common), if the list holds it.
    pub(crate) fn get(&self, word: &str) -> Option<usize> {
        let word = word.as_bytes();
        if word.len() > MAX_WORD {
            return None;
        }
        // The last block whose first word (stored in full) is not after `word`, then a scan of
        // its words, each rebuilt from the one before it (front coding).
        let (mut lo, mut hi) = (0, self.index.len() / 4);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.word_at(self.block_start(mid)) <= word {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let block = lo.checked_sub(1)?;
        let mut at = self.block_start(block);
        let n = self.ranks.len() / 2;
        let mut here = [0u8; MAX_WORD];
        let first = self.word_at(at);
        here[..first.len()].copy_from_slice(first);
        let mut len = first.len();
        at += len + 1;
        for k in 0..BLOCK {
            let entry = block * BLOCK + k;
            if entry >= n {
                return None;
            }
            if k > 0 {
                let shared = usize::from(self.words[at]);
                let rest = self.word_at(at + 1);
                here[shared..shared + rest.len()].copy_from_slice(rest);
                len = shared + rest.len();
                at += 1 + rest.len() + 1;
            }
            match here[..len].cmp(word) {
                std::cmp::Ordering::Equal => return Some(usize::from(self.ranks[entry]) << 8 | usize::from(self.ranks[n + entry])),
                std::cmp::Ordering::Greater => return None,
                std::cmp::Ordering::Less => {}
            }
        }
        None
    }
}

macro_rules! list {
    ($name:literal) => {
        Ranked {
            words: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".words")),
            ranks: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".ranks")),
            index: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".index")),
        }
    };
}

/// Every ranked dictionary, in a fixed order.
pub(crate) static RANKED_DICTIONARIES: [(DictionaryType, Ranked); 6] = [
    (DictionaryType::Passwords, list!("passwords")),
    (DictionaryType::English, list!("english_wiki")),
    (DictionaryType::FemaleNames, list!("female_names")),
    (DictionaryType::MaleNames, list!("male_names")),
    (DictionaryType::Surnames, list!("surnames")),
    (DictionaryType::UsTvAndFilm, list!("us_tv_and_film")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_of_every_list_is_found_with_its_rank() {
        for (file, (_, dict)) in ["passwords", "english_wiki", "female_names", "male_names", "surnames", "us_tv_and_film"]
            .iter()
            .zip(RANKED_DICTIONARIES.iter())
        {
            let text = std::fs::read_to_string(format!("data/{file}.txt")).unwrap();
            for (i, w) in text.trim_end().split(',').enumerate() {
                assert_eq!(dict.get(w), Some(i + 1), "{file}: {w}");
            }
            for absent in ["", "zzzzzzzzzzzzzzz", "\u{0}", "0000000000000000000000", "a b"] {
                assert_eq!(dict.get(absent), None, "{file}: {absent:?}");
            }
        }
    }
}
