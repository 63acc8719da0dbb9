//! The demo world: a pseudonym key, demo issuers standing in for 粤省事 and
//! 粤商通, listings and exclusions (imported through the real importer),
//! the demo catalogue, and sample codes for every kind of verdict.
//!
//! Dates are relative to the day the demo starts, so the demo never ages
//! out. Keys are derived from fixed labels, so printed demo cards stay
//! valid from one run to the next. None of this is used outside demo mode.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};
use xinyi_core::credential::{Cti, Form, Iss};
use xinyi_core::issue::IssuerKey;
use xinyi_core::listing::{ImportReport, Registry};
use xinyi_core::measures::CatalogueError;
use xinyi_core::trust::TrustedKey;
use xinyi_core::verdict::MemoryData;
use xinyi_core::{Catalogue, Claims, Date, Kind, PseudonymKey, UnixTime};

const CATALOGUE_TEMPLATE: &str = include_str!("../../../assets/demo/measures.toml");

fn derive(label: &str) -> [u8; 32] {
    Sha256::digest(format!("xinyi demo/{label}").as_bytes()).into()
}

/// A listed demo subject.
#[derive(Debug, Clone, Copy)]
pub struct DemoSubject {
    pub kind: Kind,
    pub id_number: &'static str,
    pub name: &'static str,
    pub category: &'static str,
    pub honour: &'static str,
    pub source: &'static str,
    /// Recognised this many days before the demo's today.
    pub recognised_days_ago: i64,
}

/// The demo's subjects. ID numbers are made up but pass the check rules.
pub const SUBJECTS: [DemoSubject; 10] = [
    p(
        "441702197003137666",
        "陈美华",
        "P02",
        "阳江好人",
        "市文明办",
        90,
    ),
    p(
        "441702195302276480",
        "林国强",
        "P03",
        "五一劳动奖章",
        "市总工会",
        200,
    ),
    p(
        "441702195606191590",
        "黄秀兰",
        "P05",
        "交通运输系统先进工作者",
        "市交通运输局",
        300,
    ),
    p(
        "441702198204021883",
        "梁志明",
        "P08",
        "优秀教师",
        "市教育局",
        60,
    ),
    // Recognised three years ago: the listing has expired.
    p(
        "441702199010026904",
        "何秋菊",
        "P13",
        "优良信用记录",
        "市发展改革局",
        1100,
    ),
    // Listed, then withdrawn by the department.
    p(
        "441702198707023266",
        "许文华",
        "P02",
        "诚信之星",
        "市文明办",
        120,
    ),
    // Listed, but excluded for serious dishonesty.
    p(
        "441702195209282368",
        "邓海燕",
        "P11",
        "诚信荣誉",
        "市文明办",
        150,
    ),
    e(
        "9144174628199HTM52",
        "阳江市漠阳五金制品有限公司",
        "E02",
        "A级纳税人",
        "市税务局",
        100,
    ),
    e(
        "914417199351HN2J1J",
        "阳江市海陵海产品有限公司",
        "E01",
        "守合同重信用企业",
        "市市场监管局",
        100,
    ),
    e(
        "914417937865EJXEBU",
        "阳江市闸坡船舶修造有限公司",
        "E04",
        "海关高级认证企业",
        "阳江海关",
        100,
    ),
];
const WITHDRAWN: usize = 5;
const EXCLUDED: usize = 6;
/// A valid ID number that is on no list.
pub const NOT_LISTED_ID: &str = "441702198001011239";

const fn p(
    id: &'static str,
    name: &'static str,
    cat: &'static str,
    honour: &'static str,
    source: &'static str,
    days: i64,
) -> DemoSubject {
    DemoSubject {
        kind: Kind::Person,
        id_number: id,
        name,
        category: cat,
        honour,
        source,
        recognised_days_ago: days,
    }
}
const fn e(
    id: &'static str,
    name: &'static str,
    cat: &'static str,
    honour: &'static str,
    source: &'static str,
    days: i64,
) -> DemoSubject {
    DemoSubject {
        kind: Kind::Enterprise,
        id_number: id,
        name,
        category: cat,
        honour,
        source,
        recognised_days_ago: days,
    }
}

/// Why the demo world could not be built (a bug in the demo data).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo listings: {0}")]
    Listings(ImportReport),
    #[error("demo catalogue: {0}")]
    Catalogue(CatalogueError),
}

/// One sample code for the demo drawer.
#[derive(Debug, Clone)]
pub struct SampleCode {
    /// Stable id, e.g. `person`.
    pub id: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// The verdict a fresh terminal gives (bus top-up site).
    pub expect: &'static str,
    pub text: String,
}

/// Everything the demo needs.
#[derive(Debug)]
pub struct DemoWorld {
    pub today: Date,
    pub k_pseudo: PseudonymKey,
    pub yss: IssuerKey,
    pub yst: IssuerKey,
    pub registry: Registry,
    pub catalogue: Catalogue,
    pub revoked_cards: Vec<Cti>,
}

impl DemoWorld {
    /// Builds the demo world for `today` (UTC+8).
    pub fn new(today: Date) -> Result<DemoWorld, DemoError> {
        let mut registry = Registry::new();
        registry
            .import_listings(listings_csv(today).as_bytes(), today)
            .map_err(DemoError::Listings)?;
        registry
            .import_exclusions(exclusions_csv(today).as_bytes(), today)
            .map_err(DemoError::Listings)?;
        let catalogue =
            Catalogue::from_toml(&catalogue_toml(today)).map_err(DemoError::Catalogue)?;
        Ok(DemoWorld {
            today,
            k_pseudo: PseudonymKey::from_bytes(derive("k_pseudo")),
            yss: IssuerKey::from_seed(Iss::Yss, derive("issuer/GD-YSS")),
            yst: IssuerKey::from_seed(Iss::Yst, derive("issuer/GD-YST")),
            registry,
            catalogue,
            revoked_cards: vec![revoked_card_cti()],
        })
    }

    /// The demo issuers' keys, valid from a year before today for five years.
    pub fn trust_list(&self) -> Vec<TrustedKey> {
        let from = self.today.add_years(-1).start_utc8();
        let until = self.today.add_years(4).start_utc8();
        [&self.yss, &self.yst]
            .into_iter()
            .filter_map(|k| {
                TrustedKey::new(k.iss, k.public_key(), from, until, false, Some(k.kid())).ok()
            })
            .collect()
    }

    /// The terminal-side data, in memory.
    pub fn verifier_data(&self) -> MemoryData {
        MemoryData::new(
            self.trust_list(),
            self.revoked_cards.clone(),
            self.registry.eligibility(&self.k_pseudo),
        )
    }

    fn claims(
        &self,
        s: &DemoSubject,
        id: &str,
        form: Form,
        iat: UnixTime,
        exp: UnixTime,
        cti: Cti,
    ) -> Claims {
        let iss = match s.kind {
            Kind::Person => Iss::Yss,
            Kind::Enterprise => Iss::Yst,
        };
        Claims {
            iss,
            sub: self.k_pseudo.pseudonym(s.kind, id),
            exp,
            iat,
            cti,
            kind: s.kind,
            name: xinyi_core::ids::mask_name(s.kind, s.name),
            form,
        }
    }

    fn key_for(&self, kind: Kind) -> &IssuerKey {
        match kind {
            Kind::Person => &self.yss,
            Kind::Enterprise => &self.yst,
        }
    }

    fn dynamic(&self, s: &DemoSubject, id: &str, now: UnixTime, salt: &str) -> String {
        let c = self.claims(
            s,
            id,
            Form::Dynamic,
            now,
            UnixTime(now.0 + 120),
            cti(&format!("{salt}/{}", now.0)),
        );
        self.key_for(s.kind).mint(&c, true)
    }

    /// A printed card for subject `i`: issued 30 days ago, valid two years.
    fn card(&self, i: usize, revoked: bool) -> String {
        let s = &SUBJECTS[i];
        let iat = self.today.add_days(-30).start_utc8();
        let exp = self.today.add_days(-30).add_years(2).start_utc8();
        let cti = if revoked {
            revoked_card_cti()
        } else {
            cti(&format!("card/{i}"))
        };
        self.key_for(s.kind).mint(
            &self.claims(s, s.id_number, Form::PrintedCard, iat, exp, cti),
            true,
        )
    }

    /// Sample codes for every case the demo drawer offers, minted at `now`.
    pub fn sample_codes(&self, now: UnixTime) -> Vec<SampleCode> {
        let person = &SUBJECTS[0];
        let forged = {
            // A rogue key that claims the real issuer's kid.
            let rogue = IssuerKey::from_seed(Iss::Yss, derive("rogue"));
            let forged_cti = cti(&format!("forged/{}", now.0));
            let c = self.claims(
                person,
                person.id_number,
                Form::Dynamic,
                now,
                UnixTime(now.0 + 120),
                forged_cti,
            );
            rogue.mint_as(self.yss.kid(), &c, true)
        };
        let expired = {
            let iat = UnixTime(now.0 - 900);
            let c = self.claims(
                person,
                person.id_number,
                Form::Dynamic,
                iat,
                UnixTime(iat.0 + 120),
                cti(&format!("expired/{}", now.0)),
            );
            self.yss.mint(&c, true)
        };
        vec![
            SampleCode {
                id: "person",
                label_zh: "守信个人（动态码）",
                label_en: "Listed person (app code)",
                expect: "OK",
                text: self.dynamic(person, person.id_number, now, "person"),
            },
            SampleCode {
                id: "card",
                label_zh: "守信个人（打印卡）",
                label_en: "Listed person (printed card)",
                expect: "OK",
                text: self.card(1, false),
            },
            SampleCode {
                id: "enterprise",
                label_zh: "守信企业（粤商通）",
                label_en: "Listed enterprise",
                expect: "MEASURE_NOT_APPLICABLE",
                text: self.dynamic(&SUBJECTS[7], SUBJECTS[7].id_number, now, "enterprise"),
            },
            SampleCode {
                id: "expired",
                label_zh: "已过期的码",
                label_en: "Expired code",
                expect: "EXPIRED",
                text: expired,
            },
            SampleCode {
                id: "forged",
                label_zh: "伪造的码",
                label_en: "Forged code",
                expect: "BAD_SIGNATURE",
                text: forged,
            },
            SampleCode {
                id: "not-listed",
                label_zh: "不在名单的人",
                label_en: "Person not listed",
                expect: "NOT_LISTED",
                text: self.dynamic(person, NOT_LISTED_ID, now, "not-listed"),
            },
            SampleCode {
                id: "withdrawn",
                label_zh: "已撤销的名单",
                label_en: "Listing withdrawn",
                expect: "LISTING_NOT_VALID",
                text: self.dynamic(
                    &SUBJECTS[WITHDRAWN],
                    SUBJECTS[WITHDRAWN].id_number,
                    now,
                    "withdrawn",
                ),
            },
            SampleCode {
                id: "excluded",
                label_zh: "严重失信（排除）",
                label_en: "Excluded for dishonesty",
                expect: "LISTING_NOT_VALID",
                text: self.dynamic(
                    &SUBJECTS[EXCLUDED],
                    SUBJECTS[EXCLUDED].id_number,
                    now,
                    "excluded",
                ),
            },
            SampleCode {
                id: "revoked-card",
                label_zh: "已挂失的卡",
                label_en: "Revoked card",
                expect: "CARD_REVOKED",
                text: self.card(2, true),
            },
        ]
    }
}

fn cti(label: &str) -> Cti {
    let d = derive(&format!("cti/{label}"));
    Cti::new(d[..12].to_vec()).unwrap_or_else(|_| revoked_card_cti())
}

fn revoked_card_cti() -> Cti {
    let d = derive("cti/revoked-card");
    Cti::new(d[..12].to_vec()).unwrap_or_else(|_| unreachable_cti())
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_cti() -> Cti {
    panic!("a 12-byte cti is always valid")
}

/// The demo exclusions file: one listed subject excluded a month ago.
pub fn exclusions_csv(today: Date) -> String {
    let excluded = &SUBJECTS[EXCLUDED];
    format!(
        "kind,id_number,reason,recorded_on\n{},{},严重违法失信,{}\n",
        excluded.kind,
        excluded.id_number,
        today.add_days(-30)
    )
}

/// The demo catalogue's TOML text: in force from a year before `today`
/// to three years after.
pub fn catalogue_toml(today: Date) -> String {
    CATALOGUE_TEMPLATE
        .replace("{VALID_FROM}", &today.add_years(-1).to_string())
        .replace("{VALID_UNTIL}", &today.add_years(3).to_string())
}

/// The demo listings file, dated relative to `today`.
pub fn listings_csv(today: Date) -> String {
    let mut csv = String::from(
        "kind,id_number,name,category,honour,source,recognised_on,valid_until,extension_ref,action\n",
    );
    for s in &SUBJECTS {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},,,add",
            s.kind,
            s.id_number,
            s.name,
            s.category,
            s.honour,
            s.source,
            today.add_days(-s.recognised_days_ago)
        );
    }
    let w = &SUBJECTS[WITHDRAWN];
    let _ = writeln!(
        csv,
        "{},{},{},{},{},{},{},,,withdraw",
        w.kind,
        w.id_number,
        w.name,
        w.category,
        w.honour,
        w.source,
        today.add_days(-w.recognised_days_ago)
    );
    csv
}
