//! The text the kiosk takes from data: money, times of day, and the
//! catalogue's names in the language the clerk chose. Sentences are the
//! pages' (`@tr` in `ui/`); these are values they set into them.

use xinyi_core::Fen;
use xinyi_core::measures::Measure;

pub use crate::settings::Lang;

/// `¥12.34`, the same in both languages.
pub fn money(f: Fen) -> String {
    f.to_string()
}

/// The catalogue's name of a measure in `lang`.
pub fn measure_name(lang: Lang, m: &Measure) -> String {
    match lang {
        Lang::Zh => m.name_zh.clone(),
        Lang::En => m.name_en.clone(),
    }
}

/// `HH:MM:SS` of an instant, UTC+8.
pub fn time_of_day(t: xinyi_core::UnixTime) -> String {
    let s = t.display_utc8();
    s.split_once(' ').map(|(_, t)| t.to_owned()).unwrap_or(s)
}
