//! The words the kiosk computes at run time (names, amounts, durations,
//! benefits) in the language the clerk chose. Fixed labels live in the
//! .slint files with `@tr`; these are the ones that depend on data.

use xinyi_core::measures::{Benefit, Measure, Period};
use xinyi_core::{Fen, Kind};

pub use crate::settings::Lang;

/// `¥12.34`
pub fn money(f: Fen) -> String {
    f.to_string()
}

/// "3 小时 05 分" / "3 h 05 min"; negative is treated as zero.
pub fn duration(lang: Lang, s: i64) -> String {
    let s = s.max(0);
    let (h, m) = (s / 3600, s % 3600 / 60);
    match (lang, h) {
        (Lang::Zh, 0) => format!("{m} 分钟"),
        (Lang::Zh, _) => format!("{h} 小时 {m:02} 分"),
        (Lang::En, 0) => format!("{m} min"),
        (Lang::En, _) => format!("{h} h {m:02} min"),
    }
}

pub fn kind(lang: Lang, k: Kind) -> &'static str {
    match k {
        Kind::Person => lang.pick("个人", "Person"),
        Kind::Enterprise => lang.pick("企业", "Enterprise"),
    }
}

pub fn measure_name(lang: Lang, m: &Measure) -> String {
    match lang {
        Lang::Zh => m.name_zh.clone(),
        Lang::En => m.name_en.clone(),
    }
}

/// What the benefit gives, in one line.
pub fn benefit(lang: Lang, b: &Benefit) -> String {
    match (lang, b) {
        (
            Lang::Zh,
            Benefit::PercentOff {
                percent,
                max_discount,
            },
        ) => match max_discount {
            Some(m) => format!("优惠{percent}%，每次最多减{}", money(*m)),
            None => format!("优惠{percent}%"),
        },
        (
            Lang::En,
            Benefit::PercentOff {
                percent,
                max_discount,
            },
        ) => match max_discount {
            Some(m) => format!("{percent}% off, at most {} each time", money(*m)),
            None => format!("{percent}% off"),
        },
        (Lang::Zh, Benefit::FixedOff { amount_off }) => format!("立减{}", money(*amount_off)),
        (Lang::En, Benefit::FixedOff { amount_off }) => format!("{} off", money(*amount_off)),
        (
            Lang::Zh,
            Benefit::FreeEntry {
                companion_percent,
                companion_max,
            },
        ) => match companion_max {
            Some(n) => format!("本人免票；随行亲属优惠{companion_percent}%（最多{n}人）"),
            None => format!("本人免票；随行亲属优惠{companion_percent}%"),
        },
        (
            Lang::En,
            Benefit::FreeEntry {
                companion_percent,
                companion_max,
            },
        ) => match companion_max {
            Some(n) => format!("Holder free; companions {companion_percent}% off (up to {n})"),
            None => format!("Holder free; companions {companion_percent}% off"),
        },
        (Lang::Zh, Benefit::Waiver { what }) => format!("免收{what}"),
        (Lang::En, Benefit::Waiver { what }) => format!("Waived: {what}"),
        (_, Benefit::Privilege { what }) => what.clone(),
    }
}

/// What the amount pad asks for.
pub fn amount_caption(lang: Lang, b: &Benefit) -> &'static str {
    match b {
        Benefit::FreeEntry { .. } => lang.pick("门票单价（元）", "Ticket price (yuan)"),
        Benefit::Waiver { .. } => lang.pick("免收金额（元）", "Amount waived (yuan)"),
        _ => lang.pick("金额（元）", "Amount (yuan)"),
    }
}

fn period(lang: Lang, p: Period) -> &'static str {
    match p {
        Period::Day => lang.pick("今日", "today"),
        Period::Week => lang.pick("本周", "this week"),
        Period::Month => lang.pick("本月", "this month"),
        Period::Year => lang.pick("本年", "this year"),
    }
}

/// "信易行 · 优惠50% · 每月4次" for the measure lists.
pub fn measure_detail(lang: Lang, m: &Measure) -> String {
    let mut s = format!("{} · {}", m.family, benefit(lang, &m.benefit));
    if let Some(l) = m.limit {
        match lang {
            Lang::Zh => s.push_str(&format!(" · {}限{}次", period(lang, l.per), l.count)),
            Lang::En => s.push_str(&format!(" · {} a {}", l.count, l.per.as_str())),
        }
    }
    s
}

/// `HH:MM:SS` of an instant, UTC+8.
pub fn time_of_day(t: xinyi_core::UnixTime) -> String {
    let s = t.display_utc8();
    s.split_once(' ').map(|(_, t)| t.to_owned()).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Lang::Zh, 3 * 3600 + 5 * 60 + 9), "3 小时 05 分");
        assert_eq!(duration(Lang::En, 59 * 60), "59 min");
        assert_eq!(duration(Lang::En, -5), "0 min");
    }

    #[test]
    fn benefits_in_both_languages() {
        let b = Benefit::PercentOff {
            percent: 50,
            max_discount: Some(Fen(10_000)),
        };
        assert_eq!(benefit(Lang::Zh, &b), "优惠50%，每次最多减¥100.00");
        assert_eq!(benefit(Lang::En, &b), "50% off, at most ¥100.00 each time");
    }
}
