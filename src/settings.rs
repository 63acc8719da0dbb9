//! The terminal's own settings, typed: what the clerk chose at the counter
//! (language, camera) and what the operator set at the command line
//! (retention). They are kept in the store's `settings` table under the
//! keys below; nothing else reads or writes those keys. What the registry
//! decides for the site (void window, offline age, self-service) is not
//! here: it arrives signed with the data ([`crate::counter::SiteSnapshot`]).

use std::ops::RangeInclusive;

use crate::store::{DEFAULT_RETENTION_S, SETTING_RETENTION, Store, StoreError};

const KEY_LANG: &str = "ui.lang";
const KEY_CAMERA: &str = "ui.camera";
const KEY_CAMERA_DEVICE: &str = "ui.camera_device";

/// The kiosk's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Chinese, the default.
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Picks the text for this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// `en` is English; anything else is the default, Chinese.
    pub fn parse(s: &str) -> Lang {
        if s.trim().eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// Every setting of the terminal, with its value or its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub lang: Lang,
    /// Whether the kiosk opens the camera.
    pub camera: bool,
    /// Which camera (an index into the devices found).
    pub camera_device: u32,
    /// How long uploaded records are kept before they are purged.
    pub retention_s: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            lang: Lang::Zh,
            camera: true,
            camera_device: 0,
            retention_s: DEFAULT_RETENTION_S,
        }
    }
}

/// A setting people may change at the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustable {
    RetentionDays,
}

impl Adjustable {
    pub const ALL: [Adjustable; 1] = [Adjustable::RetentionDays];

    /// The name typed at the command line.
    pub fn name(self) -> &'static str {
        match self {
            Adjustable::RetentionDays => "retention-days",
        }
    }

    pub fn range(self) -> RangeInclusive<i64> {
        match self {
            Adjustable::RetentionDays => 1..=3650,
        }
    }

    pub fn find(name: &str) -> Option<Adjustable> {
        Adjustable::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The value as people read and type it.
    pub fn get(self, s: &Settings) -> i64 {
        match self {
            Adjustable::RetentionDays => s.retention_s / 86_400,
        }
    }

    /// Sets the value typed, checked against its range.
    pub fn set(self, s: &mut Settings, typed: &str) -> Result<(), SettingError> {
        let range = self.range();
        let n: i64 = typed
            .trim()
            .parse()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| SettingError {
                name: self.name(),
                typed: typed.to_owned(),
                range: range.clone(),
            })?;
        match self {
            Adjustable::RetentionDays => s.retention_s = n * 86_400,
        }
        Ok(())
    }
}

/// A value out of its setting's range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} must be a whole number from {} to {}, not {typed:?}", .range.start(), .range.end())]
pub struct SettingError {
    pub name: &'static str,
    pub typed: String,
    pub range: RangeInclusive<i64>,
}

impl Settings {
    /// Reads every setting; a value that does not parse is its default.
    pub fn load(store: &Store) -> Result<Settings, StoreError> {
        let d = Settings::default();
        Ok(Settings {
            lang: store.setting(KEY_LANG)?.map_or(d.lang, |s| Lang::parse(&s)),
            camera: store.setting(KEY_CAMERA)?.is_none_or(|v| v != "off"),
            camera_device: store
                .setting(KEY_CAMERA_DEVICE)?
                .and_then(|v| v.parse().ok())
                .unwrap_or(d.camera_device),
            retention_s: store.retention_s()?,
        })
    }

    /// Writes the settings that differ from `old`.
    pub fn save(&self, old: &Settings, store: &mut Store) -> Result<(), StoreError> {
        if self.lang != old.lang {
            store.set_setting(KEY_LANG, self.lang.code())?;
        }
        if self.camera != old.camera {
            store.set_setting(KEY_CAMERA, if self.camera { "on" } else { "off" })?;
        }
        if self.camera_device != old.camera_device {
            store.set_setting(KEY_CAMERA_DEVICE, &self.camera_device.to_string())?;
        }
        if self.retention_s != old.retention_s {
            store.set_setting(SETTING_RETENTION, &self.retention_s.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_out_of_range_names_the_setting_and_its_range() {
        let mut s = Settings::default();
        let e = Adjustable::RetentionDays.set(&mut s, "0").unwrap_err();
        assert!(e.to_string().contains("retention-days"), "{e}");
        assert!(e.to_string().contains("3650"), "{e}");
        assert_eq!(s, Settings::default());
        Adjustable::RetentionDays.set(&mut s, " 30 ").unwrap();
        assert_eq!(s.retention_s, 30 * 86_400);
        assert_eq!(Adjustable::RetentionDays.get(&s), 30);
    }

    #[test]
    fn settings_survive_a_reopen_and_only_changes_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut store = Store::open(&path).unwrap();
        let old = Settings::load(&store).unwrap();
        assert_eq!(old, Settings::default());
        let new = Settings {
            lang: Lang::En,
            camera: false,
            camera_device: 2,
            retention_s: 7 * 86_400,
        };
        new.save(&old, &mut store).unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(Settings::load(&store).unwrap(), new);
        assert_eq!(store.retention_s().unwrap(), 7 * 86_400);
    }
}
