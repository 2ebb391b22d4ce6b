//! Gatehouse's patch: the regular expressions upstream zxcvbn compiles on first use (`regex`
//! and, for the back-references, `fancy-regex`), matched by hand with the same semantics. Both
//! crates and their Unicode tables leave every binary that estimates a password, and so does
//! their set-up from the first estimate.

/// A repetition `(.+)\1+` (`greedy`) or `(.+?)\1+` (lazy) in `token`, leftmost, as a
/// backtracking engine finds it: `(start, end, base end)` in bytes. `.` is any char but `\n`.
pub(crate) fn repeat(token: &str, greedy: bool) -> Option<(usize, usize, usize)> {
    let cs: Vec<(usize, char)> = token.char_indices().collect();
    let n = cs.len();
    let byte = |k: usize| if k == n { token.len() } else { cs[k].0 };
    let same = |a: usize, b: usize, l: usize| (0..l).all(|t| cs[a + t].1 == cs[b + t].1);
    for i in 0..n {
        let line = cs[i..].iter().take_while(|c| c.1 != '\n').count();
        let max = line.min((n - i) / 2);
        let try_len = |l: usize| {
            if !same(i, i + l, l) {
                return None;
            }
            let mut k = 2;
            while i + (k + 1) * l <= n && same(i, i + k * l, l) {
                k += 1;
            }
            Some((byte(i), byte(i + k * l), byte(i + l)))
        };
        let found = if greedy { (1..=max).rev().find_map(try_len) } else { (1..=max).find_map(try_len) };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The shortest base of `^(.+?)\1+$`: `token` is that base repeated at least twice.
pub(crate) fn anchored_base(token: &str) -> Option<&str> {
    let cs: Vec<(usize, char)> = token.char_indices().collect();
    let n = cs.len();
    if cs.iter().any(|c| c.1 == '\n') {
        return None;
    }
    (1..=n / 2)
        .find(|&l| n % l == 0 && (l..n).all(|k| cs[k].1 == cs[k % l].1))
        .map(|l| &token[..cs[l].0])
}

/// The non-overlapping matches of `19[0-9]{2}|20[0-9]{2}`, left to right, as byte ranges.
pub(crate) fn recent_years(password: &str) -> Vec<(usize, usize)> {
    let b = password.as_bytes();
    let mut found = Vec::new();
    let mut p = 0;
    while p + 4 <= b.len() {
        if matches!(&b[p..p + 2], b"19" | b"20") && b[p + 2].is_ascii_digit() && b[p + 3].is_ascii_digit() {
            found.push((p, p + 4));
            p += 4;
        } else {
            p += 1;
        }
    }
    found
}

/// `^[0-9]{4,8}$`
pub(crate) fn maybe_date_without_separator(token: &str) -> bool {
    (4..=8).contains(&token.len()) && token.bytes().all(|c| c.is_ascii_digit())
}

/// `^([0-9]{1,4})([\s/\\_.-])([0-9]{1,2})([\s/\\_.-])([0-9]{1,4})$`: the five groups.
pub(crate) fn maybe_date_with_separator(token: &str) -> Option<[&str; 5]> {
    fn digits(s: &str, max: usize) -> Option<(&str, &str)> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (1..=max).contains(&n).then(|| s.split_at(n))
    }
    fn separator(s: &str) -> Option<(&str, &str)> {
        let c = s.chars().next()?;
        (c.is_whitespace() || "/\\_.-".contains(c)).then(|| s.split_at(c.len_utf8()))
    }
    let (year1, rest) = digits(token, 4)?;
    let (sep1, rest) = separator(rest)?;
    let (middle, rest) = digits(rest, 2)?;
    let (sep2, rest) = separator(rest)?;
    let (year2, rest) = digits(rest, 4)?;
    rest.is_empty().then_some([year1, sep1, middle, sep2, year2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_found_as_the_backtracking_expressions_found_them() {
        // greedy: [aabaab, aab]; lazy: [aa, a] (upstream's own comments)
        assert_eq!(repeat("aabaab", true), Some((0, 6, 3)));
        assert_eq!(repeat("aabaab", false), Some((0, 2, 1)));
        // greedy: [aaaa, aa]; lazy: [aaaaa, a]
        assert_eq!(repeat("aaaaa", true), Some((0, 4, 2)));
        assert_eq!(repeat("aaaaa", false), Some((0, 5, 1)));
        assert_eq!(repeat("xyzabcabcabc!", false), Some((3, 12, 6)));
        assert_eq!(repeat("abcdef", true), None);
        assert_eq!(repeat("a\na\n", true), None);
        assert_eq!(repeat("ééé", false), Some((0, 6, 2)));
        assert_eq!(anchored_base("aabaabaabaab"), Some("aab"));
        assert_eq!(anchored_base("abab"), Some("ab"));
        assert_eq!(anchored_base("abc"), None);
    }

    #[test]
    fn years_and_dates_are_matched_as_the_expressions_matched_them() {
        assert_eq!(recent_years("a1999x2015201"), vec![(1, 5), (6, 10)]);
        assert_eq!(recent_years("1899 é2100"), Vec::<(usize, usize)>::new());
        assert!(maybe_date_without_separator("1191") && maybe_date_without_separator("11111991"));
        assert!(!maybe_date_without_separator("119") && !maybe_date_without_separator("111119911") && !maybe_date_without_separator("11a1"));
        assert_eq!(maybe_date_with_separator("1/1/91"), Some(["1", "/", "1", "/", "91"]));
        assert_eq!(maybe_date_with_separator("1991 11\u{3000}11"), Some(["1991", " ", "11", "\u{3000}", "11"]));
        assert_eq!(maybe_date_with_separator("11-111-1991"), None);
        assert_eq!(maybe_date_with_separator("11.11.19911"), None);
        assert_eq!(maybe_date_with_separator("11.11"), None);
    }
}
