//! The ranked dictionaries (Gatehouse's patch): sorted at compile time by build.rs into
//! `[rank: 2 bytes][word][0x00]` entries and binary-searched in place, so the first estimate
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

/// One ranked word list, as build.rs wrote it.
#[derive(Clone, Copy)]
pub(crate) struct Ranked(&'static [u8]);

impl Ranked {
    /// The rank of `word` (1 = most common), if the list holds it.
    pub(crate) fn get(&self, word: &str) -> Option<usize> {
        let (blob, word) = (self.0, word.as_bytes());
        let (mut lo, mut hi) = (0, blob.len()); // both on entry boundaries
        while lo < hi {
            // The entry holding the middle byte starts after the previous 0x00 (or at `lo`).
            let mut start = lo + (hi - lo) / 2;
            while start > lo && blob[start - 1] != 0 {
                start -= 1;
            }
            let text = start + 2;
            let end = text + blob[text..].iter().position(|&b| b == 0)?;
            match blob[text..end].cmp(word) {
                std::cmp::Ordering::Equal => {
                    return Some((blob[start] as usize - 1) * 255 + blob[start + 1] as usize - 1);
                }
                std::cmp::Ordering::Less => lo = end + 1,
                std::cmp::Ordering::Greater => hi = start,
            }
        }
        None
    }
}

macro_rules! list {
    ($name:literal) => {
        Ranked(include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".bin")))
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
