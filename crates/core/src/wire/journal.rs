//! Journal records: every confirmed redemption, every refusal (reason code,
//! no amounts) and every void, signed by the terminal's own key and chained
//! by hash, with a per-terminal sequence number. Records are encoded once,
//! as deterministic CBOR, and those exact bytes are signed, stored,
//! uploaded and hashed; nothing is ever re-encoded.
//!
//! ```text
//! record = [1, id: bstr16, terminal: tstr, seq: uint, prev: bstr32, at: int,
//!           data_version: uint, operator: tstr, body]
//! body   = [0, measure, sub, cti: bstr, form: uint, [categories], original, discount, payable, companions]
//!        | [1, reason, measure, sub / null, cti / null, detail]
//!        | [2, target: bstr16, reason, supervisor]
//!        | [3, event: tstr, staff: tstr, role / null]
//! signed = [record bytes: bstr, signature: bstr64]        hash = SHA-256(record bytes ‖ signature)
//! batch  = [* signed]
//! ```

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::{Digest32, WireError};
use crate::cbor::{self, Value};
use crate::time::UnixTime;

const WHAT: &str = "journal record";
/// The most records one upload batch may carry.
pub const MAX_BATCH: usize = 5000;
/// The longest operator id a staff record names (a typed id is cut to it).
pub const MAX_STAFF_ID: usize = 32;

/// What a staff record says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffEvent {
    /// An operator was added, or their name, role or PIN changed.
    OperatorSet,
    OperatorRemoved,
    /// A wrong PIN, or an id the terminal does not know.
    SignInFailed,
    /// Too many wrong PINs: the operator is locked out for a while.
    LockedOut,
}

impl StaffEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffEvent::OperatorSet => "operator_set",
            StaffEvent::OperatorRemoved => "operator_removed",
            StaffEvent::SignInFailed => "sign_in_failed",
            StaffEvent::LockedOut => "locked_out",
        }
    }

    pub fn parse(s: &str) -> Option<StaffEvent> {
        [
            StaffEvent::OperatorSet,
            StaffEvent::OperatorRemoved,
            StaffEvent::SignInFailed,
            StaffEvent::LockedOut,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

use crate::history::Basis;
pub use crate::history::RecordId;

/// How a redemption's verdict was reached, and whether the clerk compared
/// the holder's ID document with the masked name (printed cards).
/// Records made before this was recorded carry none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub basis: Basis,
    pub holder: bool,
}

fn basis_value(b: Basis) -> Value {
    Value::Unsigned(match b {
        Basis::Offline => 0,
        Basis::Online => 1,
    })
}

fn basis_of(v: &Value, of: &str) -> Result<Basis, WireError> {
    match v {
        Value::Unsigned(0) => Ok(Basis::Offline),
        Value::Unsigned(1) => Ok(Basis::Online),
        other => Err(WireError::malformed(
            WHAT,
            format!("{of}.basis must be 0 (offline) or 1 (online), got {other:?}"),
        )),
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Redemption {
        measure: String,
        sub: String,
        cti: Vec<u8>,
        /// 0 dynamic, 1 printed card.
        form: u8,
        categories: Vec<String>,
        original: u64,
        discount: u64,
        payable: u64,
        companions: u32,
        checked: Option<Checked>,
    },
    Refusal {
        /// The spec's reason code.
        reason: String,
        measure: String,
        sub: Option<String>,
        cti: Option<Vec<u8>>,
        detail: String,
        /// How the verdict was reached (none in older records).
        basis: Option<Basis>,
    },
    Void {
        /// The redemption voided.
        target: RecordId,
        reason: String,
        supervisor: String,
    },
    /// Who may work the counter, and failed sign-ins: the registry checks
    /// voids and redemptions against the roster these records build, and
    /// sees PIN guessing.
    Staff {
        event: StaffEvent,
        /// The operator concerned (for a failed sign-in: the id typed).
        staff: String,
        /// The role given, for [`StaffEvent::OperatorSet`].
        role: Option<String>,
    },
}

impl Body {
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Redemption { .. } => "redemption",
            Body::Refusal { .. } => "refusal",
            Body::Void { .. } => "void",
            Body::Staff { .. } => "staff",
        }
    }

    /// The measure a redemption or refusal concerns.
    pub fn measure(&self) -> Option<&str> {
        match self {
            Body::Redemption { measure, .. } | Body::Refusal { measure, .. } => Some(measure),
            Body::Void { .. } | Body::Staff { .. } => None,
        }
    }

    /// The subject pseudonym, when known.
    pub fn sub(&self) -> Option<&str> {
        match self {
            Body::Redemption { sub, .. } => Some(sub),
            Body::Refusal { sub, .. } => sub.as_deref(),
            Body::Void { .. } | Body::Staff { .. } => None,
        }
    }

    /// The credential id, when known.
    pub fn cti(&self) -> Option<&[u8]> {
        match self {
            Body::Redemption { cti, .. } => Some(cti),
            Body::Refusal { cti, .. } => cti.as_deref(),
            Body::Void { .. } | Body::Staff { .. } => None,
        }
    }

    /// A refusal's reason code, a void's reason, a staff record's event.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Body::Refusal { reason, .. } | Body::Void { reason, .. } => Some(reason),
            Body::Staff { event, .. } => Some(event.as_str()),
            Body::Redemption { .. } => None,
        }
    }

    /// The operator a staff record or a void names.
    pub fn staff(&self) -> Option<&str> {
        match self {
            Body::Staff { staff, .. } => Some(staff),
            Body::Void { supervisor, .. } => Some(supervisor),
            _ => None,
        }
    }

    /// (original, discount, payable) of a redemption, in fen.
    pub fn amounts(&self) -> Option<(u64, u64, u64)> {
        match self {
            Body::Redemption {
                original,
                discount,
                payable,
                ..
            } => Some((*original, *discount, *payable)),
            _ => None,
        }
    }

    /// The redemption a void cancels.
    pub fn target(&self) -> Option<&RecordId> {
        match self {
            Body::Void { target, .. } => Some(target),
            _ => None,
        }
    }

    /// How a redemption's or refusal's verdict was reached, when recorded.
    pub fn basis(&self) -> Option<Basis> {
        match self {
            Body::Redemption { checked, .. } => checked.map(|c| c.basis),
            Body::Refusal { basis, .. } => *basis,
            _ => None,
        }
    }

    /// Whether the clerk checked a redemption's holder, when recorded.
    pub fn holder_checked(&self) -> Option<bool> {
        match self {
            Body::Redemption { checked, .. } => checked.map(|c| c.holder),
            _ => None,
        }
    }
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: RecordId,
    /// The terminal's id (its key id).
    pub terminal: String,
    /// 1, 2, 3 … per terminal, without gaps.
    pub seq: u64,
    /// The hash of the previous record (all zeros before the first).
    pub prev: Digest32,
    pub at: UnixTime,
    pub data_version: u64,
    /// The operator's id (never a name).
    pub operator: String,
    pub body: Body,
}

fn opt_text(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()))
}

/// The longest operator id a record may carry.
pub const MAX_OPERATOR: usize = 64;
/// The longest refusal detail or void reason a record may carry.
pub const MAX_NOTE: usize = 2000;
/// Roles an operator may be given.
pub const ROLES: [&str; 2] = ["clerk", "supervisor"];

impl Record {
    /// Why the record cannot be what a conforming terminal makes, judged
    /// from the record alone: amounts that do not add up or exceed what
    /// any measure allows, codes and ids that do not parse, fields out of
    /// bounds. `None` when nothing is wrong. (The registry adds what only
    /// it knows: the site's measures, the void window, the roster.)
    pub fn implausible(&self) -> Option<String> {
        use crate::money::{MAX_AMOUNT, MAX_COMPANIONS};
        if self.operator.trim().is_empty() || self.operator.len() > MAX_OPERATOR {
            return Some(format!(
                "operator id must be 1–{MAX_OPERATOR} bytes, got {}",
                self.operator.len()
            ));
        }
        match &self.body {
            Body::Redemption {
                measure,
                sub,
                cti,
                form,
                categories,
                original,
                discount,
                payable,
                companions,
                ..
            } => {
                if let Err(e) = crate::measures::MeasureId::parse(measure) {
                    return Some(format!("measure: {e}"));
                }
                if let Err(e) = crate::ids::SubjectId::parse(sub) {
                    return Some(format!("sub: {e}"));
                }
                if let Err(e) = crate::credential::Cti::new(cti.clone()) {
                    return Some(format!("cti: {e}"));
                }
                if *form > 1 {
                    return Some(format!("form {form} is neither 0 (app) nor 1 (card)"));
                }
                if categories.is_empty() {
                    return Some("no category".into());
                }
                if let Some(c) = categories
                    .iter()
                    .find(|c| c.parse::<crate::category::Category>().is_err())
                {
                    return Some(format!("unknown category {c:?}"));
                }
                if *companions > MAX_COMPANIONS {
                    return Some(format!(
                        "{companions} companions, more than the {MAX_COMPANIONS} any measure allows"
                    ));
                }
                let most = MAX_AMOUNT.0.saturating_mul(1 + u64::from(MAX_COMPANIONS));
                if *original > most {
                    return Some(format!(
                        "original amount {original} fen is more than any measure allows ({most})"
                    ));
                }
                if discount > original {
                    return Some(format!(
                        "discount {discount} fen is more than the original {original} fen"
                    ));
                }
                if original - discount != *payable {
                    return Some(format!(
                        "payable {payable} fen is not original {original} minus discount {discount}"
                    ));
                }
                None
            }
            Body::Refusal {
                reason,
                measure,
                sub,
                cti,
                detail,
                ..
            } => {
                if crate::verdict::Reason::from_code(reason).is_none() {
                    return Some(format!("unknown reason code {reason:?}"));
                }
                if measure.len() > MAX_OPERATOR {
                    return Some(format!("measure is {} bytes", measure.len()));
                }
                if let Some(Err(e)) = sub.as_deref().map(crate::ids::SubjectId::parse) {
                    return Some(format!("sub: {e}"));
                }
                if cti.as_ref().is_some_and(|c| c.len() > 64) {
                    return Some("cti longer than 64 bytes".into());
                }
                (detail.len() > MAX_NOTE).then(|| format!("detail is {} bytes", detail.len()))
            }
            Body::Void {
                reason, supervisor, ..
            } => {
                if reason.trim().is_empty() || reason.len() > MAX_NOTE {
                    return Some(format!("void reason must be 1–{MAX_NOTE} bytes"));
                }
                (supervisor.trim().is_empty() || supervisor.len() > MAX_STAFF_ID)
                    .then(|| format!("supervisor id must be 1–{MAX_STAFF_ID} bytes"))
            }
            Body::Staff { event, staff, role } => {
                if staff.is_empty() || staff.len() > MAX_STAFF_ID {
                    return Some(format!("staff id must be 1–{MAX_STAFF_ID} bytes"));
                }
                match (event, role.as_deref()) {
                    (StaffEvent::OperatorSet, Some(r)) if ROLES.contains(&r) => None,
                    (StaffEvent::OperatorSet, r) => Some(format!("unknown role {r:?}")),
                    (_, None) => None,
                    (e, Some(r)) => Some(format!("{} carries a role ({r})", e.as_str())),
                }
            }
        }
    }

    /// The deterministic CBOR encoding that is signed.
    pub fn encode(&self) -> Vec<u8> {
        let body = match &self.body {
            Body::Redemption {
                measure,
                sub,
                cti,
                form,
                categories,
                original,
                discount,
                payable,
                companions,
                checked,
            } => {
                let mut v = vec![
                    Value::Unsigned(0),
                    Value::Text(measure.clone()),
                    Value::Text(sub.clone()),
                    Value::Bytes(cti.clone()),
                    Value::Unsigned(u64::from(*form)),
                    Value::Array(categories.iter().map(|c| Value::Text(c.clone())).collect()),
                    Value::Unsigned(*original),
                    Value::Unsigned(*discount),
                    Value::Unsigned(*payable),
                    Value::Unsigned(u64::from(*companions)),
                ];
                if let Some(c) = checked {
                    v.push(Value::Array(vec![
                        basis_value(c.basis),
                        Value::Bool(c.holder),
                    ]));
                }
                Value::Array(v)
            }
            Body::Refusal {
                reason,
                measure,
                sub,
                cti,
                detail,
                basis,
            } => {
                let mut v = vec![
                    Value::Unsigned(1),
                    Value::Text(reason.clone()),
                    Value::Text(measure.clone()),
                    opt_text(sub),
                    cti.as_ref()
                        .map_or(Value::Null, |c| Value::Bytes(c.clone())),
                    Value::Text(detail.clone()),
                ];
                if let Some(b) = basis {
                    v.push(basis_value(*b));
                }
                Value::Array(v)
            }
            Body::Void {
                target,
                reason,
                supervisor,
            } => Value::Array(vec![
                Value::Unsigned(2),
                Value::Bytes(target.to_vec()),
                Value::Text(reason.clone()),
                Value::Text(supervisor.clone()),
            ]),
            Body::Staff { event, staff, role } => Value::Array(vec![
                Value::Unsigned(3),
                Value::Text(event.as_str().to_owned()),
                Value::Text(staff.clone()),
                opt_text(role),
            ]),
        };
        cbor::encode(&Value::Array(vec![
            Value::Unsigned(1),
            Value::Bytes(self.id.to_vec()),
            Value::Text(self.terminal.clone()),
            Value::Unsigned(self.seq),
            Value::Bytes(self.prev.0.to_vec()),
            Value::int(i128::from(self.at.0)),
            Value::Unsigned(self.data_version),
            Value::Text(self.operator.clone()),
            body,
        ]))
    }

    /// Decodes a record's bytes strictly.
    pub fn decode(bytes: &[u8]) -> Result<Record, WireError> {
        let v = cbor::decode(bytes).map_err(|e| WireError::malformed(WHAT, e.to_string()))?;
        let mut f = Fields::of(v, "record", 9)?;
        if f.uint("format")? != 1 {
            return Err(WireError::malformed(WHAT, "unknown record format"));
        }
        let id = f.id("id")?;
        let terminal = f.text("terminal")?;
        let seq = f.uint("seq")?;
        let prev = Digest32(f.bytes_n::<32>("prev")?);
        let at = UnixTime(f.int("at")?);
        let data_version = f.uint("data_version")?;
        let operator = f.text("operator")?;
        let body = f.next("body")?;
        let body = decode_body(body)?;
        if seq == 0 {
            return Err(WireError::malformed(WHAT, "seq starts at 1"));
        }
        Ok(Record {
            id,
            terminal,
            seq,
            prev,
            at,
            data_version,
            operator,
            body,
        })
    }

    /// Signs the record with the terminal's key.
    pub fn sign(&self, key: &SigningKey) -> SignedRecord {
        let bytes = self.encode();
        let sig = key.sign(&bytes).to_bytes();
        SignedRecord { bytes, sig }
    }
}

fn decode_body(v: Value) -> Result<Body, WireError> {
    let Value::Array(items) = &v else {
        return Err(WireError::malformed(
            WHAT,
            format!("body must be an array, got a {}", v.type_name()),
        ));
    };
    let kind = items.first().and_then(Value::as_int);
    // Redemptions and refusals may end with how the verdict was reached
    // (one element more); records made before that end without it.
    let (fields, extended) = match (kind, items.len()) {
        (Some(0), 11) => (11, true),
        (Some(0), _) => (10, false),
        (Some(1), 7) => (7, true),
        (Some(1), _) => (6, false),
        (Some(2) | Some(3), _) => (4, false),
        _ => return Err(WireError::malformed(WHAT, "unknown body kind")),
    };
    let mut f = Fields::of(v.clone(), "body", fields)?;
    f.uint("kind")?;
    Ok(match kind {
        Some(0) => Body::Redemption {
            measure: f.text("measure")?,
            sub: f.text("sub")?,
            cti: f.bytes("cti")?,
            form: u8::try_from(f.uint("form")?)
                .map_err(|_| WireError::malformed(WHAT, "form out of range"))?,
            categories: match f.next("categories")? {
                Value::Array(cs) => cs
                    .into_iter()
                    .map(|c| match c {
                        Value::Text(t) => Ok(t),
                        other => Err(WireError::malformed(
                            WHAT,
                            format!("category must be text, got a {}", other.type_name()),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(WireError::malformed(
                        WHAT,
                        format!("categories must be an array, got a {}", other.type_name()),
                    ));
                }
            },
            original: f.uint("original")?,
            discount: f.uint("discount")?,
            payable: f.uint("payable")?,
            companions: u32::try_from(f.uint("companions")?)
                .map_err(|_| WireError::malformed(WHAT, "companions out of range"))?,
            checked: if extended {
                Some(checked_of(f.next("checked")?)?)
            } else {
                None
            },
        },
        Some(1) => Body::Refusal {
            reason: f.text("reason")?,
            measure: f.text("measure")?,
            sub: f.opt_text("sub")?,
            cti: match f.next("cti")? {
                Value::Null => None,
                Value::Bytes(b) => Some(b),
                other => {
                    return Err(WireError::malformed(
                        WHAT,
                        format!("cti must be bytes or null, got a {}", other.type_name()),
                    ));
                }
            },
            detail: f.text("detail")?,
            basis: if extended {
                Some(basis_of(&f.next("basis")?, "body")?)
            } else {
                None
            },
        },
        Some(2) => Body::Void {
            target: f.id("target")?,
            reason: f.text("reason")?,
            supervisor: f.text("supervisor")?,
        },
        _ => {
            let event = f.text("event")?;
            Body::Staff {
                event: StaffEvent::parse(&event).ok_or_else(|| {
                    WireError::malformed(WHAT, format!("unknown staff event {event:?}"))
                })?,
                staff: f.text("staff")?,
                role: f.opt_text("role")?,
            }
        }
    })
}

fn checked_of(v: Value) -> Result<Checked, WireError> {
    let mut f = Fields::of(v, "checked", 2)?;
    let basis = basis_of(&f.next("basis")?, "checked")?;
    let holder = match f.next("holder")? {
        Value::Bool(b) => b,
        other => return Err(f.bad("holder", "true or false", &other)),
    };
    Ok(Checked { basis, holder })
}

/// Positional fields of a CBOR array, with errors naming the field.
struct Fields {
    items: std::vec::IntoIter<Value>,
    of: &'static str,
}

impl Fields {
    fn of(v: Value, of: &'static str, n: usize) -> Result<Fields, WireError> {
        match v {
            Value::Array(items) if items.len() == n => Ok(Fields {
                items: items.into_iter(),
                of,
            }),
            Value::Array(items) => Err(WireError::malformed(
                WHAT,
                format!("{of} must have {n} fields, got {}", items.len()),
            )),
            other => Err(WireError::malformed(
                WHAT,
                format!("{of} must be an array, got a {}", other.type_name()),
            )),
        }
    }
    fn next(&mut self, name: &str) -> Result<Value, WireError> {
        self.items
            .next()
            .ok_or_else(|| WireError::malformed(WHAT, format!("{} has no {name}", self.of)))
    }
    fn bad(&self, name: &str, want: &str, got: &Value) -> WireError {
        WireError::malformed(
            WHAT,
            format!(
                "{}.{name} must be {want}, got a {}",
                self.of,
                got.type_name()
            ),
        )
    }
    fn uint(&mut self, name: &str) -> Result<u64, WireError> {
        match self.next(name)? {
            Value::Unsigned(n) => Ok(n),
            other => Err(self.bad(name, "an unsigned integer", &other)),
        }
    }
    fn int(&mut self, name: &str) -> Result<i64, WireError> {
        let v = self.next(name)?;
        v.as_int()
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| self.bad(name, "an integer", &v))
    }
    fn text(&mut self, name: &str) -> Result<String, WireError> {
        match self.next(name)? {
            Value::Text(t) => Ok(t),
            other => Err(self.bad(name, "text", &other)),
        }
    }
    fn opt_text(&mut self, name: &str) -> Result<Option<String>, WireError> {
        match self.next(name)? {
            Value::Text(t) => Ok(Some(t)),
            Value::Null => Ok(None),
            other => Err(self.bad(name, "text or null", &other)),
        }
    }
    fn bytes(&mut self, name: &str) -> Result<Vec<u8>, WireError> {
        match self.next(name)? {
            Value::Bytes(b) => Ok(b),
            other => Err(self.bad(name, "bytes", &other)),
        }
    }
    fn bytes_n<const N: usize>(&mut self, name: &str) -> Result<[u8; N], WireError> {
        let b = self.bytes(name)?;
        let len = b.len();
        b.try_into().map_err(|_| {
            WireError::malformed(
                WHAT,
                format!("{}.{name} must be {N} bytes, got {len}", self.of),
            )
        })
    }
    fn id(&mut self, name: &str) -> Result<RecordId, WireError> {
        self.bytes_n::<16>(name)
    }
}

/// A record's signed bytes, exactly as made by the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRecord {
    pub bytes: Vec<u8>,
    pub sig: [u8; 64],
}

impl SignedRecord {
    /// The chain hash: SHA-256 of the record bytes and the signature.
    pub fn hash(&self) -> Digest32 {
        let mut b = self.bytes.clone();
        b.extend_from_slice(&self.sig);
        Digest32::of(&b)
    }

    /// Verifies the signature with the terminal's key and decodes.
    pub fn open(&self, key: &VerifyingKey) -> Result<Record, WireError> {
        self.check(key)?;
        Record::decode(&self.bytes)
    }

    /// Verifies the signature alone, by the rule [`check_all`] applies.
    pub fn check(&self, key: &VerifyingKey) -> Result<(), WireError> {
        let zebra_key = strict_key(key)?;
        let sig = strict_sig(key, self)?;
        zebra_key
            .verify(&sig, &self.bytes)
            .map_err(|_| bad_signature(key))
    }
}

fn bad_signature(key: &VerifyingKey) -> WireError {
    WireError::BadSignature {
        what: WHAT,
        key: super::key_id(key.as_bytes()),
    }
}

/// The check a key passes before any signature by it is checked: a
/// point of more than small order (as `verify_strict` demands; a
/// small-order key proves nothing about who signed). Made once per
/// upload: the point is decoded once, not once per record.
fn strict_key(key: &VerifyingKey) -> Result<ed25519_zebra::VerificationKey, WireError> {
    if key.is_weak() {
        return Err(bad_signature(key));
    }
    ed25519_zebra::VerificationKey::try_from(key.to_bytes()).map_err(|_| bad_signature(key))
}

/// The check a record's signature passes before its equation: its R
/// must be a point of more than small order, as the key's. S must be
/// canonical, which ed25519-zebra checks.
fn strict_sig(key: &VerifyingKey, record: &SignedRecord) -> Result<Signature, WireError> {
    let sig = Signature::from_bytes(&record.sig);
    let r_ok = CompressedEdwardsY(sig.r_bytes().to_owned())
        .decompress()
        .is_some_and(|r| !r.is_small_order());
    if !r_ok {
        return Err(bad_signature(key));
    }
    Ok(sig)
}

/// Verifies the signatures of an upload's records, all made with `key`.
///
/// The rule, the same for one record ([`SignedRecord::check`]) and for
/// many: Ed25519's cofactored equation `[8][S]B = [8]R + [8][k]A`
/// (ZIP 215, by ed25519-zebra), S canonical, the key and R not of small
/// order. Under the cofactored equation, checking many signatures at
/// once (random 128-bit coefficients from `rng`, the terms of the one key
/// summed into one) accepts exactly the signatures checking each alone
/// would, bar a chance of 2^-128; RFC 8032's other equation, which
/// `verify_strict` uses, could not be checked many at once without that
/// agreement. Every signature it accepts was made with the key's secret.
///
/// A batch that fails is checked record by record, so the error names
/// the first bad record: its index in `records`.
pub fn check_all<R: rand_core::CryptoRng>(
    records: &[SignedRecord],
    key: &VerifyingKey,
    rng: R,
) -> Result<(), (usize, WireError)> {
    if records.is_empty() {
        return Ok(());
    }
    let zebra_key = ed25519_zebra::VerificationKeyBytes::from(strict_key(key).map_err(|e| (0, e))?);
    let mut batch = ed25519_zebra::batch::Verifier::new();
    for (index, record) in records.iter().enumerate() {
        let sig = strict_sig(key, record).map_err(|e| (index, e))?;
        batch.queue((zebra_key, sig, &record.bytes));
    }
    if batch.verify(rng).is_ok() {
        return Ok(());
    }
    for (index, record) in records.iter().enumerate() {
        record.check(key).map_err(|e| (index, e))?;
    }
    // The batch failed though every record passes alone: a chance of
    // 2^-128, or a fault; refused either way, naming the whole upload.
    Err((0, bad_signature(key)))
}

/// Encodes an upload batch.
pub fn encode_batch(records: &[SignedRecord]) -> Vec<u8> {
    cbor::encode(&Value::Array(
        records
            .iter()
            .map(|r| {
                Value::Array(vec![
                    Value::Bytes(r.bytes.clone()),
                    Value::Bytes(r.sig.to_vec()),
                ])
            })
            .collect(),
    ))
}

/// Decodes an upload batch (signatures not yet checked) of at most
/// [`MAX_BATCH`] records.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<SignedRecord>, WireError> {
    decode_records(bytes, MAX_BATCH)
}

/// Decodes a run of signed records, at most `limit` of them. The count is
/// read from the array's head before anything else is decoded, so a batch
/// that declares too many costs nothing; an array of indefinite length
/// (whose count is not declared) is refused.
pub fn decode_records(bytes: &[u8], limit: usize) -> Result<Vec<SignedRecord>, WireError> {
    let what = "upload batch";
    match cbor::array_head(bytes) {
        Ok(Some(n)) if n > limit as u64 => {
            return Err(WireError::TooLarge {
                what,
                limit: limit as u64,
                found: n,
            });
        }
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(WireError::malformed(
                what,
                "must be an array of declared length",
            ));
        }
        Err(e) => return Err(WireError::malformed(what, e.to_string())),
    }
    let v = cbor::decode(bytes).map_err(|e| WireError::malformed(what, e.to_string()))?;
    let Value::Array(items) = v else {
        return Err(WireError::malformed(what, "must be an array"));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Array(pair) => match <[Value; 2]>::try_from(pair) {
                Ok([Value::Bytes(bytes), Value::Bytes(sig)]) => {
                    let sig: [u8; 64] = sig.try_into().map_err(|_| {
                        WireError::malformed(
                            what,
                            format!("record {i}: signature must be 64 bytes"),
                        )
                    })?;
                    Ok(SignedRecord { bytes, sig })
                }
                _ => Err(WireError::malformed(
                    what,
                    format!("record {i} must be [bytes, signature]"),
                )),
            },
            _ => Err(WireError::malformed(
                what,
                format!("record {i} must be an array"),
            )),
        })
        .collect()
}

/// Why a run of records does not continue a terminal's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("record seq {found} follows seq {after}: a gap or a reordering")]
    Gap { after: u64, found: u64 },
    #[error(
        "record seq {seq} names a previous hash {found} but the previous record's hash is {expected}"
    )]
    BrokenLink {
        seq: u64,
        expected: Digest32,
        found: Digest32,
    },
    #[error("record seq {seq} is from terminal {found}, not {expected}")]
    WrongTerminal {
        seq: u64,
        expected: String,
        found: String,
    },
}

/// Checks that `records` (with their hashes) continue the chain whose last
/// record has `prev` = (seq, hash), or start it when `prev` is None.
pub fn check_chain(
    terminal: &str,
    prev: Option<(u64, Digest32)>,
    records: &[(Record, Digest32)],
) -> Result<(), ChainError> {
    let (mut seq, mut hash) = prev.unwrap_or((0, Digest32::default()));
    for (r, h) in records {
        if r.terminal != terminal {
            return Err(ChainError::WrongTerminal {
                seq: r.seq,
                expected: terminal.to_owned(),
                found: r.terminal.clone(),
            });
        }
        if r.seq != seq + 1 {
            return Err(ChainError::Gap {
                after: seq,
                found: r.seq,
            });
        }
        if r.prev != hash {
            return Err(ChainError::BrokenLink {
                seq: r.seq,
                expected: hash,
                found: r.prev,
            });
        }
        seq = r.seq;
        hash = *h;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64, prev: Digest32, body: Body) -> Record {
        Record {
            id: [seq as u8; 16],
            terminal: "t1".into(),
            seq,
            prev,
            at: UnixTime(1_773_106_200),
            data_version: 7,
            operator: "op1".into(),
            body,
        }
    }

    /// A half-price bus top-up of one subject.
    fn topup(cti: Vec<u8>, form: u8, checked: Option<Checked>) -> Body {
        Body::Redemption {
            measure: "XYX-BUS-TOPUP".into(),
            sub: crate::ids::SubjectId::from_bytes(&[1; 16]).to_string(),
            cti,
            form,
            categories: vec!["P02".into()],
            original: 10_000,
            discount: 5000,
            payable: 5000,
            companions: 0,
            checked,
        }
    }

    #[test]
    fn records_round_trip_sign_and_chain() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let bodies = [
            topup(vec![1; 12], 0, None),
            topup(
                vec![2; 12],
                1,
                Some(Checked {
                    basis: Basis::Online,
                    holder: true,
                }),
            ),
            Body::Refusal {
                reason: "NOT_LISTED".into(),
                measure: "XYX-BUS-TOPUP".into(),
                sub: None,
                cti: None,
                detail: "x".into(),
                basis: None,
            },
            Body::Refusal {
                reason: "LIMIT_REACHED".into(),
                measure: "XYX-BUS-TOPUP".into(),
                sub: None,
                cti: None,
                detail: "x".into(),
                basis: Some(Basis::Offline),
            },
            Body::Void {
                target: [1; 16],
                reason: "wrong amount".into(),
                supervisor: "sup".into(),
            },
            Body::Staff {
                event: StaffEvent::OperatorSet,
                staff: "9001".into(),
                role: Some("supervisor".into()),
            },
            Body::Staff {
                event: StaffEvent::SignInFailed,
                staff: "1001".into(),
                role: None,
            },
        ];
        let mut prev = Digest32::default();
        let mut chain = Vec::new();
        for (i, b) in bodies.into_iter().enumerate() {
            let r = rec(i as u64 + 1, prev, b);
            let s = r.sign(&key);
            assert_eq!(s.open(&key.verifying_key()).unwrap(), r);
            prev = s.hash();
            chain.push((r, prev));
        }
        assert_eq!(check_chain("t1", None, &chain), Ok(()));
        assert!(matches!(
            check_chain("t1", None, &chain[1..]),
            Err(ChainError::Gap { after: 0, found: 2 })
        ));
        assert!(matches!(
            check_chain("t2", None, &chain),
            Err(ChainError::WrongTerminal { .. })
        ));
        let mut broken = chain.clone();
        broken[1].0.prev = Digest32::default();
        assert!(matches!(
            check_chain("t1", None, &broken),
            Err(ChainError::BrokenLink { seq: 2, .. })
        ));

        let signed: Vec<SignedRecord> = chain.iter().map(|(r, _)| r.sign(&key)).collect();
        assert_eq!(decode_batch(&encode_batch(&signed)).unwrap(), signed);
        let mut tampered = signed[0].clone();
        let last = tampered.bytes.len() - 1;
        tampered.bytes[last] ^= 1;
        assert!(matches!(
            tampered.open(&key.verifying_key()),
            Err(WireError::BadSignature { .. })
        ));
    }

    /// Test coefficients for [`check_all`]: SHA-256 of a counter.
    struct Coefficients(u64);

    impl rand_core::TryRng for Coefficients {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            rand_core::utils::next_word_via_fill(self)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            rand_core::utils::next_word_via_fill(self)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(32) {
                self.0 += 1;
                let d = Digest32::of(&self.0.to_le_bytes());
                chunk.copy_from_slice(&d.0[..chunk.len()]);
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Coefficients {}

    fn signed_run(key: &SigningKey, n: u64) -> Vec<SignedRecord> {
        let mut prev = Digest32::default();
        (1..=n)
            .map(|seq| {
                let s = rec(seq, prev, topup(seq.to_le_bytes().to_vec(), 0, None)).sign(key);
                prev = s.hash();
                s
            })
            .collect()
    }

    /// A signature made by hand with the key's secret scalar: R = [r]B +
    /// `extra`, S = r + k·a, k = SHA-512(R ‖ A ‖ message).
    fn sign_by_hand(
        key: &SigningKey,
        bytes: &[u8],
        r: u64,
        extra: curve25519_dalek::EdwardsPoint,
    ) -> [u8; 64] {
        use curve25519_dalek::{EdwardsPoint, Scalar};
        use sha2::{Digest as _, Sha512};
        let r = Scalar::from(r);
        let big_r = (EdwardsPoint::mul_base(&r) + extra).compress();
        let hash: [u8; 64] = Sha512::new()
            .chain_update(big_r.as_bytes())
            .chain_update(key.verifying_key().as_bytes())
            .chain_update(bytes)
            .finalize()
            .into();
        let k = Scalar::from_bytes_mod_order_wide(&hash);
        let s = r + k * key.to_scalar();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(big_r.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        sig
    }

    #[test]
    fn an_upload_is_checked_at_once_and_a_bad_record_named_by_its_index() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let vk = key.verifying_key();
        let run = signed_run(&key, 40);
        assert_eq!(check_all(&run, &vk, Coefficients(0)), Ok(()));
        for bad in [0, 17, 39] {
            let mut tampered = run.clone();
            tampered[bad].sig[5] ^= 0x40;
            let (index, e) = check_all(&tampered, &vk, Coefficients(1)).unwrap_err();
            assert_eq!(index, bad);
            assert!(matches!(e, WireError::BadSignature { .. }), "{e}");
            assert!(tampered[bad].check(&vk).is_err());
        }
        // Two bad: the first is named.
        let mut tampered = run.clone();
        tampered[30].bytes[3] ^= 1;
        tampered[12].bytes[3] ^= 1;
        assert_eq!(
            check_all(&tampered, &vk, Coefficients(2)).unwrap_err().0,
            12
        );
        // Another key's signatures are refused.
        let other = SigningKey::from_bytes(&[10; 32]).verifying_key();
        assert_eq!(check_all(&run, &other, Coefficients(3)).unwrap_err().0, 0);
        assert_eq!(check_all(&[], &vk, Coefficients(4)), Ok(()));
    }

    #[test]
    fn what_strict_verification_refuses_for_a_weak_key_or_r_is_refused_alone_and_at_once() {
        use curve25519_dalek::EdwardsPoint;
        use curve25519_dalek::traits::Identity as _;
        let key = SigningKey::from_bytes(&[11; 32]);
        let vk = key.verifying_key();
        let mut run = signed_run(&key, 5);
        let strict = |s: &SignedRecord, k: &VerifyingKey| {
            k.verify_strict(&s.bytes, &Signature::from_bytes(&s.sig))
                .is_ok()
        };
        let cofactored = |s: &SignedRecord, k: &VerifyingKey| {
            ed25519_zebra::VerificationKey::try_from(k.to_bytes())
                .and_then(|z| z.verify(&Signature::from_bytes(&s.sig), &s.bytes))
                .is_ok()
        };

        // R of small order (the identity) and S = k·a: the equation holds,
        // as ZIP 215 alone would accept.
        let mut small_r = run[2].clone();
        small_r.sig = sign_by_hand(&key, &small_r.bytes, 0, EdwardsPoint::identity());
        assert!(cofactored(&small_r, &vk) && !strict(&small_r, &vk));
        assert!(small_r.check(&vk).is_err());
        run[2] = small_r;
        assert_eq!(check_all(&run, &vk, Coefficients(5)).unwrap_err().0, 2);

        // S not canonical: S + l signs the same equation.
        let mut run = signed_run(&key, 5);
        // l − 1, the largest canonical scalar, plus a carry of 1: l.
        let l_minus_1 = -curve25519_dalek::Scalar::ONE;
        let mut wide = [0u16; 32];
        let mut carry = 1u16;
        for (i, w) in wide.iter_mut().enumerate() {
            let v = u16::from(run[4].sig[32 + i]) + u16::from(l_minus_1.as_bytes()[i]) + carry;
            *w = v & 0xff;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        for (i, w) in wide.iter().enumerate() {
            run[4].sig[32 + i] = u8::try_from(*w).unwrap();
        }
        assert!(!strict(&run[4], &vk) && !cofactored(&run[4], &vk));
        assert_eq!(check_all(&run, &vk, Coefficients(6)).unwrap_err().0, 4);

        // A key of small order (the identity): R = [r]B, S = r satisfies
        // its equation for any message at all.
        let weak = VerifyingKey::from_bytes(&EdwardsPoint::identity().compress().0).unwrap();
        assert!(weak.is_weak());
        let anything = SignedRecord {
            bytes: b"anything at all".to_vec(),
            sig: {
                let r = curve25519_dalek::Scalar::from(7u64);
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(EdwardsPoint::mul_base(&r).compress().as_bytes());
                sig[32..].copy_from_slice(r.as_bytes());
                sig
            },
        };
        assert!(cofactored(&anything, &weak) && !strict(&anything, &weak));
        assert!(anything.check(&weak).is_err());
        assert_eq!(
            check_all(&[anything], &weak, Coefficients(7))
                .unwrap_err()
                .0,
            0
        );
    }

    #[test]
    fn a_signature_with_torsion_in_r_gets_one_answer_alone_and_at_once() {
        // Only the key's holder can make it (S needs the secret scalar);
        // the cofactored equation accepts it, alone and in every batch,
        // whatever the coefficients: no hub process answers differently.
        let key = SigningKey::from_bytes(&[12; 32]);
        let vk = key.verifying_key();
        let mut run = signed_run(&key, 8);
        for (i, torsion) in [1usize, 2, 4].into_iter().enumerate() {
            let t = curve25519_dalek::constants::EIGHT_TORSION[torsion];
            run[i + 3].sig = sign_by_hand(&key, &run[i + 3].bytes, 1000 + i as u64, t);
            assert!(run[i + 3].check(&vk).is_ok());
            assert!(
                vk.verify_strict(&run[i + 3].bytes, &Signature::from_bytes(&run[i + 3].sig))
                    .is_err()
            );
        }
        for seed in 0..64 {
            assert_eq!(check_all(&run, &vk, Coefficients(seed * 1000)), Ok(()));
        }
    }

    #[test]
    fn a_batch_declaring_too_many_records_is_refused_from_its_head() {
        // The head says a million records; none follow. Refused as too
        // large, not decoded (and not as truncated).
        let mut head = vec![0x9A];
        head.extend_from_slice(&1_000_000u32.to_be_bytes());
        assert!(matches!(
            decode_batch(&head),
            Err(WireError::TooLarge {
                found: 1_000_000,
                ..
            })
        ));
        // An indefinite-length array hides its count: refused.
        assert!(matches!(
            decode_batch(&[0x9F, 0xFF]),
            Err(WireError::Malformed { .. })
        ));
        assert_eq!(decode_batch(&[0x80]).unwrap(), vec![]);
        assert!(decode_records(&encode_batch(&[]), 0).is_ok());
    }

    #[test]
    fn how_a_verdict_was_reached_must_be_one_of_the_two() {
        let body = |checked: Value| {
            Value::Array(vec![
                Value::Unsigned(0),
                Value::Text("XYX-BUS-TOPUP".into()),
                Value::Text(crate::ids::SubjectId::from_bytes(&[1; 16]).to_string()),
                Value::Bytes(vec![1; 12]),
                Value::Unsigned(1),
                Value::Array(vec![Value::Text("P02".into())]),
                Value::Unsigned(100),
                Value::Unsigned(50),
                Value::Unsigned(50),
                Value::Unsigned(0),
                checked,
            ])
        };
        let ok = decode_body(body(Value::Array(vec![
            Value::Unsigned(1),
            Value::Bool(true),
        ])))
        .unwrap();
        assert_eq!(ok.basis(), Some(Basis::Online));
        assert_eq!(ok.holder_checked(), Some(true));
        let e = decode_body(body(Value::Array(vec![
            Value::Unsigned(2),
            Value::Bool(true),
        ])))
        .unwrap_err()
        .to_string();
        assert!(e.contains("basis"), "{e}");
        let e = decode_body(body(Value::Array(vec![
            Value::Unsigned(0),
            Value::Unsigned(1),
        ])))
        .unwrap_err()
        .to_string();
        assert!(e.contains("holder"), "{e}");
    }

    #[test]
    fn malformed_records_and_batches() {
        assert!(Record::decode(&[0x80]).is_err());
        assert!(decode_batch(&[0xA0]).is_err());
        assert!(
            decode_batch(&cbor::encode(&Value::Array(vec![Value::Array(vec![
                Value::Bytes(vec![]),
                Value::Bytes(vec![0; 63])
            ])])))
            .is_err()
        );
    }
}
