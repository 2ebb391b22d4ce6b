//! The static files of `shared/static/`, embedded, under names that carry their hash
//! (`gatehouse.<16 hex>.css`), and the generated brand stylesheets (`/static/brand/<rrggbb>.css`).

use std::sync::OnceLock;

const FILES: [(&str, &[u8], &str); 3] = [
    ("gatehouse.css", include_bytes!("../../static/gatehouse.css"), "text/css; charset=utf-8"),
    ("gatehouse.js", include_bytes!("../../static/gatehouse.js"), "text/javascript; charset=utf-8"),
    ("favicon.svg", include_bytes!("../../static/favicon.svg"), "image/svg+xml"),
];

pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

struct Asset {
    name: &'static str,
    hashed: String,
    bytes: &'static [u8],
    content_type: &'static str,
}

fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, bytes, content_type)| {
                let (stem, ext) = name.rsplit_once('.').expect("a file with an extension");
                let hash = &crate::crypto::sha256_hex(bytes)[..16];
                Asset { name, hashed: format!("{stem}.{hash}.{ext}"), bytes, content_type }
            })
            .collect()
    })
}

/// The template function `asset(name)`: `/static/<stem>.<hash>.<ext>`.
pub fn asset_url(name: &str) -> Option<String> {
    assets().iter().find(|a| a.name == name).map(|a| format!("/static/{}", a.hashed))
}

/// A static file by its path below `/static/`: `(content type, bytes)`. Only the current
/// hashed names and brand stylesheets of valid colours exist.
pub fn lookup(path: &str) -> Option<(&'static str, Vec<u8>)> {
    if let Some(css) = path.strip_prefix("brand/").and_then(|f| f.strip_suffix(".css")) {
        let colour = format!("#{css}");
        return crate::domain::parse_brand_color(&colour)
            .ok()
            .filter(|c| *c == colour)
            .map(|c| ("text/css; charset=utf-8", brand_css(&c).into_bytes()));
    }
    assets().iter().find(|a| a.hashed == path).map(|a| (a.content_type, a.bytes.to_vec()))
}

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const INK: Rgb = [17, 24, 39];
const LIGHT_SURFACES: [Rgb; 3] = [[255, 255, 255], [245, 246, 248], [240, 242, 245]];
const DARK_SURFACES: [Rgb; 3] = [[22, 27, 34], [13, 17, 23], [31, 38, 48]];

fn luminance(c: Rgb) -> f64 {
    let ch = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * ch(c[0]) + 0.7152 * ch(c[1]) + 0.0722 * ch(c[2])
}

fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// The first of `c` mixed toward `target` in 5 % steps with `ratio` against all of `against`.
fn toward(c: Rgb, target: Rgb, against: &[Rgb], ratio: f64) -> Rgb {
    for step in 0..=20u8 {
        let t = f64::from(step) / 20.0;
        // Python's round() rounds halves to even: so does round_ties_even.
        let mix = |i: usize| (f64::from(c[i]) + (f64::from(target[i]) - f64::from(c[i])) * t).round_ties_even() as u8;
        let mixed = [mix(0), mix(1), mix(2)];
        if against.iter().all(|s| contrast(mixed, *s) >= ratio) {
            return mixed;
        }
    }
    target
}

fn on(fill: Rgb) -> Rgb {
    if contrast(fill, WHITE) >= contrast(fill, INK) {
        WHITE
    } else {
        INK
    }
}

fn fill(c: Rgb) -> Rgb {
    if contrast(c, on(c)) >= 4.5 {
        c
    } else {
        toward(c, BLACK, &[WHITE], 4.5)
    }
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// The body of `/static/brand/<rrggbb>.css` for a colour `#rrggbb` (README.md, "Assets").
pub fn brand_css(colour: &str) -> String {
    let c = u32::from_str_radix(colour.trim_start_matches('#'), 16).unwrap_or(0x4f46e5);
    let rgb = [(c >> 16) as u8, (c >> 8) as u8, c as u8];
    let (light, dark) = (fill(rgb), fill(toward(rgb, WHITE, &DARK_SURFACES, 3.0)));
    format!(
        ":root{{--gh-brand:{};--gh-on-brand:{};--gh-brand-text:{}}}\n@media (prefers-color-scheme:dark){{:root{{--gh-brand:{};--gh-on-brand:{};--gh-brand-text:{}}}}}\n",
        hex(light),
        hex(on(light)),
        hex(toward(rgb, BLACK, &LIGHT_SURFACES, 4.5)),
        hex(dark),
        hex(on(dark)),
        hex(toward(rgb, WHITE, &DARK_SURFACES, 4.5)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brand_stylesheets_match_the_readme_test_vectors() {
        for (colour, light, dark) in [
            ("#4f46e5", ["#4f46e5", "#ffffff", "#4f46e5"], ["#6962e9", "#ffffff", "#8d87ee"]),
            ("#0f766e", ["#0f766e", "#ffffff", "#0f766e"], ["#1b7d75", "#ffffff", "#4b9892"]),
            ("#ffd500", ["#ffd500", "#111827", "#806a00"], ["#ffd500", "#111827", "#ffd500"]),
            ("#808080", ["#737373", "#ffffff", "#6d6d6d"], ["#737373", "#ffffff", "#8d8d8d"]),
            ("#000000", ["#000000", "#ffffff", "#000000"], ["#737373", "#ffffff", "#8c8c8c"]),
            ("#ffffff", ["#ffffff", "#111827", "#666666"], ["#ffffff", "#111827", "#ffffff"]),
        ] {
            let want = format!(
                ":root{{--gh-brand:{};--gh-on-brand:{};--gh-brand-text:{}}}\n@media (prefers-color-scheme:dark){{:root{{--gh-brand:{};--gh-on-brand:{};--gh-brand-text:{}}}}}\n",
                light[0], light[1], light[2], dark[0], dark[1], dark[2]
            );
            assert_eq!(brand_css(colour), want, "{colour}");
        }
    }

    #[test]
    fn assets_answer_only_under_their_current_hashed_name() {
        let url = asset_url("gatehouse.css").unwrap();
        let name = url.strip_prefix("/static/").unwrap();
        assert!(name.starts_with("gatehouse.") && name.ends_with(".css") && name.len() == "gatehouse..css".len() + 16, "{name}");
        assert_eq!(lookup(name).unwrap().0, "text/css; charset=utf-8");
        assert!(lookup("gatehouse.css").is_none());
        assert!(lookup("gatehouse.0000000000000000.css").is_none());
        assert!(asset_url("missing.txt").is_none());
        assert!(lookup("brand/0f766e.css").is_some());
        for bad in ["brand/0F766E.css", "brand/0f766.css", "brand/zzzzzz.css", "brand/0f766e.js"] {
            assert!(lookup(bad).is_none(), "{bad}");
        }
    }
}
