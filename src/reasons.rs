//! Verdicts in plain words for clerks and citizens, in Chinese and English,
//! with what the citizen can do next. The codes stay the spec's; these are
//! what people read.

use xinyi_core::Reason;

/// The words for one refusal reason.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    pub title_zh: &'static str,
    pub title_en: &'static str,
    pub advice_zh: &'static str,
    pub advice_en: &'static str,
}

const OBJECT_ZH: &str = "如对名单有异议，可扫描下方二维码提出名单异议。";
const OBJECT_EN: &str = "If you think the list is wrong, scan the code below to file an objection.";

/// Whether an objection to the list (名单异议) is what the citizen can do
/// about a refusal for `reason`: the list said no, not the code or the
/// counter.
pub fn objection_applies(reason: Reason) -> bool {
    matches!(reason, Reason::NotListed | Reason::ListingNotValid)
}

/// Plain words for a reason.
pub fn words(reason: Reason) -> Words {
    let w = |title_zh, title_en, advice_zh, advice_en| Words {
        title_zh,
        title_en,
        advice_zh,
        advice_en,
    };
    match reason {
        Reason::ClockSuspect => w(
            "本机时间异常，暂停核验",
            "This terminal's clock is wrong: verification is paused",
            "请工作人员将本机时间校正为北京时间后重试（时间被调慢会导致过期二维码被误认）。",
            "Staff: set this terminal's clock to the correct Beijing time, then try again.",
        ),
        Reason::StaleData => w(
            "本机名单数据过旧，暂停核验",
            "This terminal's list data is too old to verify",
            "请工作人员连接网络同步数据，或导入最新数据包。",
            "Staff: connect to the network and sync, or import the latest data bundle.",
        ),
        Reason::Malformed => w(
            "无法识别的二维码",
            "This is not a credit-incentive code",
            "请在粤省事/粤商通打开“守信激励码”后重新出示。",
            "Open the credit-incentive code in the 粤省事/粤商通 app and show it again.",
        ),
        Reason::UnknownKey | Reason::KeyNotValid => w(
            "二维码签发机构无法确认",
            "The code's issuer cannot be confirmed",
            "请刷新守信激励码后重试；仍不能通过请联系发码平台。",
            "Refresh the code and try again; if it still fails, contact the app's support.",
        ),
        Reason::BadSignature => w(
            "二维码校验失败（可能被篡改）",
            "The code failed its security check",
            "请使用粤省事/粤商通中的原始二维码，不要使用截图或翻拍。",
            "Show the original code from the app, not a screenshot or a photo of it.",
        ),
        Reason::NotYetValid => w(
            "二维码时间异常",
            "The code's time is ahead of this terminal",
            "请核对手机时间后刷新二维码再试。",
            "Check the phone's clock, refresh the code and try again.",
        ),
        Reason::Expired => w(
            "二维码已过期",
            "The code has expired",
            "请刷新守信激励码后重新出示。",
            "Refresh the code in the app and show it again.",
        ),
        Reason::LifetimeTooLong => w(
            "二维码有效期异常",
            "The code's validity period is not allowed",
            "请刷新守信激励码后重新出示。",
            "Refresh the code in the app and show it again.",
        ),
        Reason::Replayed => w(
            "此二维码已使用过",
            "This code has already been used",
            "动态码只能使用一次，请刷新后重新出示。",
            "An app code works once: refresh it and show the new one.",
        ),
        Reason::CardRevoked => w(
            "此守信卡已挂失作废",
            "This printed card has been cancelled",
            "请到发卡窗口补办新卡。",
            "Ask at the issuing office for a new card.",
        ),
        Reason::NotListed => w(
            "未在守信激励名单中",
            "Not on the credit-incentive list",
            OBJECT_ZH,
            OBJECT_EN,
        ),
        Reason::ListingNotValid => w(
            "守信激励资格不在有效期内",
            "The listing is not in force today",
            OBJECT_ZH,
            OBJECT_EN,
        ),
        Reason::MeasureNotApplicable => w(
            "本项优惠不适用",
            "This benefit does not apply here",
            "可查看激励措施清单了解您可享受的措施。",
            "See the measures list for the benefits that apply to you.",
        ),
        Reason::LimitReached => w(
            "本期优惠次数已用完",
            "The benefit's use limit is reached for this period",
            "可在下一周期再次使用。",
            "The benefit is available again in the next period.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_words_in_both_languages() {
        for r in Reason::ALL {
            let w = words(r);
            for s in [w.title_zh, w.title_en, w.advice_zh, w.advice_en] {
                assert!(!s.is_empty(), "{r}");
            }
            assert!(!w.title_zh.is_ascii(), "{r} Chinese title");
            assert!(w.title_en.is_ascii(), "{r} English title");
        }
    }
}
