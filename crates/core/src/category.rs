//! Incentive categories P01–P13 (persons) and E01–E09 (enterprises) from the
//! list submission standard (`list-standard.md`, "Categories").

use std::fmt;
use std::str::FromStr;

use crate::ids::Kind;

/// A category code, known to match a row of the standard's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Category {
    kind: Kind,
    number: u8,
}

/// (short Chinese name, short English name), in table order.
const PERSONS: [(&str, &str); 13] = [
    ("援鄂医务人员", "Medical staff who went to Hubei"),
    (
        "道德模范、诚信之星、阳江好人",
        "Moral models, integrity stars",
    ),
    ("劳动模范、先进工作者", "Model workers"),
    ("公安英雄模范", "Police heroes and models"),
    ("交通运输系统劳模", "Transport model workers"),
    ("五四奖章、优秀青年", "Youth honours"),
    ("三八红旗手、最美家庭", "Women's and family honours"),
    ("模范教师、优秀教师", "Model teachers"),
    ("勘察设计大师", "Design masters"),
    (
        "优秀民营企业家、优秀员工",
        "Excellent entrepreneurs and employees",
    ),
    ("其他诚信荣誉", "Other integrity honours"),
    ("诚信评价优秀", "Rated excellent for integrity"),
    ("优良信用记录", "Excellent credit record"),
];
const ENTERPRISES: [(&str, &str); 9] = [
    ("守合同重信用企业", "Contract-abiding, trustworthy"),
    ("A级纳税人", "A-grade taxpayer"),
    ("交通建设守信典型", "Trustworthy in transport construction"),
    ("海关高级认证企业", "Customs AEO certified"),
    (
        "信用协会诚信企业",
        "Credit association integrity enterprise",
    ),
    ("落实激励措施企业", "Implements incentive measures"),
    ("其他诚信荣誉", "Other integrity honours"),
    ("诚信评价优秀", "Rated excellent for integrity"),
    ("优良信用记录", "Excellent credit record"),
];

impl Category {
    /// Every category in table order.
    pub fn all() -> impl Iterator<Item = Category> {
        (1..=13)
            .map(|n| Category {
                kind: Kind::Person,
                number: n,
            })
            .chain((1..=9).map(|n| Category {
                kind: Kind::Enterprise,
                number: n,
            }))
    }

    /// The subject kind the category is for.
    pub fn kind(self) -> Kind {
        self.kind
    }

    /// The category with this kind and number, if it exists.
    pub fn from_parts(kind: Kind, number: u8) -> Option<Category> {
        let max = match kind {
            Kind::Person => 13,
            Kind::Enterprise => 9,
        };
        (1..=max)
            .contains(&number)
            .then_some(Category { kind, number })
    }

    /// The number within its kind (1 for P01 and E01).
    pub fn number(self) -> u8 {
        self.number
    }

    /// The code, e.g. `P02`.
    pub fn code(self) -> String {
        format!("{}{:02}", self.kind.letter(), self.number)
    }

    fn names(self) -> (&'static str, &'static str) {
        let i = usize::from(self.number) - 1;
        match self.kind {
            Kind::Person => PERSONS[i],
            Kind::Enterprise => ENTERPRISES[i],
        }
    }

    /// A short Chinese name for staff screens.
    pub fn name_zh(self) -> &'static str {
        self.names().0
    }

    /// A short English name.
    pub fn name_en(self) -> &'static str {
        self.names().1
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:02}", self.kind.letter(), self.number)
    }
}

/// An unknown category code (holds the text as given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown category {0:?} (P01–P13 for persons, E01–E09 for enterprises)")]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;

    /// Parses a code such as `P02` or `E09`.
    fn from_str(s: &str) -> Result<Category, UnknownCategory> {
        let unknown = || UnknownCategory(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 3 || !b[1].is_ascii_digit() || !b[2].is_ascii_digit() {
            return Err(unknown());
        }
        let number = (b[1] - b'0') * 10 + (b[2] - b'0');
        let (kind, max) = match b[0] {
            b'P' => (Kind::Person, 13),
            b'E' => (Kind::Enterprise, 9),
            _ => return Err(unknown()),
        };
        if !(1..=max).contains(&number) {
            return Err(unknown());
        }
        Ok(Category { kind, number })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_and_print() {
        assert_eq!(Category::all().count(), 22);
        for c in Category::all() {
            assert_eq!(c.code().parse::<Category>(), Ok(c));
            assert!(!c.name_zh().is_empty());
        }
        assert_eq!(
            "E02".parse::<Category>().map(Category::kind),
            Ok(Kind::Enterprise)
        );
        for bad in ["P00", "P14", "E10", "X01", "p01", "P1", "P001", ""] {
            assert!(bad.parse::<Category>().is_err(), "{bad}");
        }
    }
}
