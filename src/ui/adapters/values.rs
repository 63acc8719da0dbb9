//! The view's plain values as the UI contract's types (`ui/types.slint`):
//! the maps the adapters share.

use slint::SharedString;
use xinyi_core::measures::{Benefit, Period};
use xinyi_core::wire::journal::StaffEvent;
use xinyi_core::{Kind, Reason};

use super::s;
use crate::ui::MeasureItem;
use crate::ui::contract::{
    UiBenefit, UiBenefitKind, UiCamera, UiCameraProblem, UiHolderKind, UiPeriod, UiReason,
    UiStaffError, UiStaffEvent, UiStaffNote, UiStaffProblem, UiSyncLine, UiSyncState,
};
use crate::ui::kiosk::{CameraProblem, StaffNote};
use crate::ui::view::{CameraLight, MeasureRow, StaffError, SyncLine, SyncState};

/// A count for an `int` property; one too large to show is shown as the
/// largest.
pub fn int<T: TryInto<i32>>(n: T) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

pub fn period(p: Period) -> UiPeriod {
    match p {
        Period::Day => UiPeriod::Day,
        Period::Week => UiPeriod::Week,
        Period::Month => UiPeriod::Month,
        Period::Year => UiPeriod::Year,
    }
}

pub fn holder(k: Kind) -> UiHolderKind {
    match k {
        Kind::Person => UiHolderKind::Person,
        Kind::Enterprise => UiHolderKind::Enterprise,
    }
}

pub fn reason(r: Reason) -> UiReason {
    match r {
        Reason::ClockSuspect => UiReason::ClockSuspect,
        Reason::StaleData => UiReason::StaleData,
        Reason::Malformed => UiReason::Malformed,
        Reason::UnknownKey => UiReason::UnknownKey,
        Reason::BadSignature => UiReason::BadSignature,
        Reason::KeyNotValid => UiReason::KeyNotValid,
        Reason::NotYetValid => UiReason::NotYetValid,
        Reason::Expired => UiReason::Expired,
        Reason::LifetimeTooLong => UiReason::LifetimeTooLong,
        Reason::Replayed => UiReason::Replayed,
        Reason::CardRevoked => UiReason::CardRevoked,
        Reason::NotListed => UiReason::NotListed,
        Reason::ListingNotValid => UiReason::ListingNotValid,
        Reason::MeasureNotApplicable => UiReason::MeasureNotApplicable,
        Reason::LimitReached => UiReason::LimitReached,
    }
}

/// A benefit with its numbers; amounts as money, a missing maximum as ""
/// or -1.
pub fn benefit(b: &Benefit) -> UiBenefit {
    let mut u = UiBenefit {
        companion_max: -1,
        ..UiBenefit::default()
    };
    match b {
        Benefit::PercentOff {
            percent,
            max_discount,
        } => {
            u.kind = UiBenefitKind::PercentOff;
            u.percent = i32::from(*percent);
            u.max_discount = max_discount.map(|m| s(&m.to_string())).unwrap_or_default();
        }
        Benefit::FixedOff { amount_off } => {
            u.kind = UiBenefitKind::FixedOff;
            u.amount_off = s(&amount_off.to_string());
        }
        Benefit::FreeEntry {
            companion_percent,
            companion_max,
        } => {
            u.kind = UiBenefitKind::FreeEntry;
            u.companion_percent = i32::from(*companion_percent);
            u.companion_max = companion_max.map_or(-1, int);
        }
        Benefit::Waiver { what } => {
            u.kind = UiBenefitKind::Waiver;
            u.what = s(what);
        }
        Benefit::Privilege { what } => {
            u.kind = UiBenefitKind::Privilege;
            u.what = s(what);
        }
    }
    u
}

pub fn measure(m: &MeasureRow) -> MeasureItem {
    let (count, per) = m.limit.unwrap_or((0, Period::Month));
    MeasureItem {
        id: s(&m.id),
        name: s(&m.name),
        family: s(&m.family),
        benefit: benefit(&m.benefit),
        limited: m.limit.is_some(),
        limit_count: int(count),
        limit_period: period(per),
    }
}

pub fn camera(c: CameraLight) -> UiCamera {
    match c {
        CameraLight::Starting => UiCamera::Starting,
        CameraLight::Live => UiCamera::Live,
        CameraLight::Unavailable => UiCamera::Unavailable,
        CameraLight::Off => UiCamera::Off,
    }
}

/// A camera problem and the device's own words.
pub fn camera_problem(p: Option<&CameraProblem>) -> (UiCameraProblem, SharedString) {
    match p {
        None => (UiCameraProblem::None, SharedString::new()),
        Some(CameraProblem::NoDevice) => (UiCameraProblem::NoDevice, SharedString::new()),
        Some(CameraProblem::Disabled) => (UiCameraProblem::Disabled, SharedString::new()),
        Some(CameraProblem::CannotOpen(why)) => (UiCameraProblem::CannotOpen, s(why)),
    }
}

pub fn staff_error(e: Option<&StaffError>) -> UiStaffError {
    let (kind, count, detail) = match e {
        None => (UiStaffProblem::None, 0, ""),
        Some(StaffError::EnterIdAndPin) => (UiStaffProblem::EnterIdAndPin, 0, ""),
        Some(StaffError::WrongPin { tries_left }) => {
            (UiStaffProblem::WrongPin, int(*tries_left), "")
        }
        Some(StaffError::Locked { minutes }) => (UiStaffProblem::Locked, int(*minutes), ""),
        Some(StaffError::NotSupervisor) => (UiStaffProblem::NotSupervisor, 0, ""),
        Some(StaffError::Failed(why)) => (UiStaffProblem::Failed, 0, why.as_str()),
    };
    UiStaffError {
        kind,
        count,
        detail: s(detail),
    }
}

pub fn staff_event(e: StaffEvent) -> UiStaffEvent {
    match e {
        StaffEvent::OperatorSet => UiStaffEvent::OperatorSet,
        StaffEvent::OperatorRemoved => UiStaffEvent::OperatorRemoved,
        StaffEvent::SignInFailed => UiStaffEvent::SignInFailed,
        StaffEvent::LockedOut => UiStaffEvent::LockedOut,
    }
}

pub fn sync_line(l: &SyncLine) -> UiSyncLine {
    let (state, last, error) = match &l.state {
        SyncState::None => (UiSyncState::None, "", ""),
        SyncState::FileOnly => (UiSyncState::FileOnly, "", ""),
        SyncState::Failed { error, last } => (UiSyncState::Failed, last.as_str(), error.as_str()),
        SyncState::Online { last } => (UiSyncState::Online, last.as_str(), ""),
    };
    let (note, seq) = match l.note {
        None => (UiStaffNote::None, 0),
        Some(StaffNote::SyncRequested) => (UiStaffNote::SyncRequested, 0),
        Some(StaffNote::Voided { seq }) => (UiStaffNote::Voided, int(seq)),
    };
    UiSyncLine {
        state,
        last: s(last),
        error: s(error),
        note,
        voided_seq: seq,
    }
}
