//! What this device stores about the profile: the shell keeps a [`LocalRecord`] in IndexedDB
//! exactly as serialised here, so a reload (or another tab) resumes from the same facts.

use serde::{Deserialize, Serialize};

use super::{Entropy, Millis};
use crate::faults::{Fault, on as fault};
use crate::merge::{Field, FieldConflict};
use crate::patch::{ProfilePatch, RecordView};
use crate::validate::uploaded_photo;
use crate::wire::{ProfileFields, ServerProfile};

/// The device's copy of the profile and everything needed to sync it after a reload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalRecord {
    /// The values the person sees and edits here (the source of truth for the UI).
    pub local: ProfileFields,
    /// The last server state this device knows: the common ancestor for the three-way merge
    /// and the `If-Match` of the next write. `None` until the first fetch.
    pub base: Option<ServerProfile>,
    /// True only once the server accepted `local` (or sent exactly these values).
    pub synchronized: bool,
    /// When the not-yet-synchronized local change was made; `None` once synchronized.
    pub changed_at: Option<Millis>,
    /// When this device last confirmed its state with the server.
    pub last_synced_at: Option<Millis>,
    /// An unresolved conflict, stored so a reload still shows it (and never loses `local`).
    #[serde(default)]
    pub conflict: Option<Conflict>,
    /// The write that may have reached the server and whose outcome is not known yet (sent,
    /// answer not seen: a timeout, a reload, a lost connection). It is stored before it is
    /// sent and sent again exactly, with the same mutation id, until the server answers
    /// 200 (its outcome, possibly a replay) or 412 (never applied). Only then is a newer
    /// local state sent, so this device always knows which server versions are its own. It
    /// may be an online-only save's write, gone first once changes were saved on top of it
    /// ([`LocalRecord::online_doubt_first`]).
    #[serde(default)]
    pub sent: Option<SentWrite>,
    /// The fields changed on this device since `base` (empty once synchronized). Only the
    /// merge of a record that never saw the server needs it: untouched fields take the
    /// server's values instead of the form's empty defaults.
    #[serde(default)]
    pub changed: Vec<Field>,
    /// The next write, decided while it cannot leave (offline, a retry armed, the session
    /// ended): exactly what this device would send now, with its mutation id; kept in step
    /// with the pending values by the machine. The service worker sends only writes decided
    /// here: it moves this one to `sent` in one transaction, then sends it, so it holds no
    /// rule of its own about what to send.
    #[serde(default)]
    pub prepared: Option<SentWrite>,
    /// The photo (SHA-256) the server must hold before [`LocalRecord::prepared`] may leave,
    /// decided with it by the machine ([`LocalRecord::photo_to_upload`]). The service worker
    /// uploads it first, from the device store, and moves `prepared` to `sent` only once the
    /// server said it holds it (noting it in `photos_on_server` in the same transaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_photo: Option<String>,
    /// The server's answer to `sent` (its 200, or a 412 naming its mutation), stored by the
    /// service worker as it came: the machine applies it when a tab next reads the record.
    #[serde(default)]
    pub answer: Option<ServerProfile>,
    /// The values this device's latest accepted writes changed, per field (at most
    /// [`OWN_WRITES`]): such a server value is the person's own, never "the other device's".
    #[serde(default)]
    pub own: Vec<OwnValue>,
    /// An online-only save's write whose outcome is unknown (sent, and no answer read yet).
    /// It is stored before it leaves, so the next Save sends it again exactly, with its key,
    /// before anything newer, whether it comes from this tab, another one, or after a
    /// reload; only the server's word on it ends it ([`super::OnlineSave`]). The sync loop and
    /// the service worker do not send it while it stands alone: repeating an online-only save
    /// is the person's act. A change saved offline-first on top of it is one: it then becomes
    /// the write in doubt, `sent` ([`LocalRecord::online_doubt_first`]).
    #[serde(default)]
    pub online_sent: Option<SentWrite>,
    /// Which write of the device store produced this record. Every writer (a tab, the service
    /// worker) stores [`LocalRecord::next_revision`] of the record it read, and a tab commits
    /// only while the store still holds the revision it last read or wrote: one number is
    /// compared instead of the whole record. 0 in records stored before revisions existed
    /// (those are compared whole).
    #[serde(default)]
    pub revision: u64,
    /// Photos this device uploaded and the server said it holds (201 or 200), by SHA-256. A
    /// write that names a photo leaves only once the server holds it
    /// ([`LocalRecord::photo_to_upload`]); only photos a write of this record may still name
    /// are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos_on_server: Vec<String>,
}

/// A value one of this device's accepted writes put in a field, with the version of the field
/// on the server that write made ([`ServerProfile::field_versions`]): the same value put there
/// again by another device (changed and changed back) is that device's, not this one's.
/// Stored as `[field, value, version]`; a record stored before versions holds `[field,
/// value]`, read as version 0: matched by value alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnValue {
    /// The field written.
    pub field: Field,
    /// The value the write put there.
    pub value: String,
    /// The field's version that write made (0: not known).
    pub version: u64,
}

impl OwnValue {
    /// Whether this is `value` of `field` as a server state holding it at field version `at`
    /// has it (`None`: the server state does not say; matched by value).
    fn is(&self, field: Field, value: &str, at: Option<u64>) -> bool {
        self.field == field
            && self.value == value
            && (self.version == 0 || at.is_none_or(|at| at == self.version))
    }
}

impl Serialize for OwnValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.field, &self.value, self.version).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for OwnValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = OwnValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("[field, value] or [field, value, version]")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OwnValue, A::Error> {
                let missing = |i| serde::de::Error::invalid_length(i, &Entry);
                Ok(OwnValue {
                    field: seq.next_element()?.ok_or_else(|| missing(0))?,
                    value: seq.next_element()?.ok_or_else(|| missing(1))?,
                    version: seq.next_element()?.unwrap_or(0),
                })
            }
        }
        deserializer.deserialize_seq(Entry)
    }
}

/// How many values of its own accepted writes a device remembers ([`LocalRecord::own`]).
pub const OWN_WRITES: usize = 8;

/// One `PUT /api/profile`, as stored while its outcome is unknown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentWrite {
    /// The random 128-bit mutation id, sent as `Idempotency-Key`.
    pub mutation: String,
    /// The whole body of the PUT: the local values when it was first sent, kept so that a
    /// repeat sends exactly the same write.
    pub fields: ProfileFields,
    /// The version the write is based on (`If-Match`).
    pub if_match: u64,
    /// The fields whose values it changes over that version: once it is applied, those
    /// values are this device's own, even when its answer arrives after newer versions (not
    /// sent; empty in writes stored before it existed, which are compared with the base).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Field>,
    /// An online-only save's write: the record takes its values only from its answer, so one
    /// that went first as the sync loop's write in doubt ([`LocalRecord::online_doubt_first`])
    /// has values the record does not hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online: bool,
}

impl SentWrite {
    /// A write of `fields` on top of `base` (the device's last known server state, if any).
    pub fn new(mutation: String, fields: ProfileFields, base: Option<&ServerProfile>) -> Self {
        let changes = Field::ALL
            .into_iter()
            .filter(|f| base.is_none_or(|b| f.get(&b.fields()) != f.get(&fields)))
            .collect();
        Self {
            mutation,
            fields,
            if_match: base.map_or(1, |b| b.version),
            changes,
            online: false,
        }
    }

    /// This write, as an online-only save's.
    pub(super) fn online(mut self) -> Self {
        self.online = true;
        self
    }

    /// This write, with the fields the person typed here counted among its changes even where
    /// the server already held the value (typed back, or a change undone in another tab):
    /// once applied, such a value is this device's own as much as one it changed.
    pub(super) fn typed(mut self, typed: &[Field]) -> Self {
        self.changes = Field::ALL
            .into_iter()
            .filter(|f| self.changes.contains(f) || typed.contains(f))
            .collect();
        self
    }

    /// Whether `state` says this write was not applied: it is the version the write would
    /// have made (`if_match + 1`), made by another write (its mutation id). Two devices may
    /// send one value on one version (a person undoing a change another types back): by the
    /// values and the field's version alone, the other's write looks like this one applied.
    pub fn ruled_out_by(&self, state: &ServerProfile) -> bool {
        state.version == self.if_match + 1
            && state
                .mutation_id
                .as_ref()
                .is_some_and(|m| *m != self.mutation)
    }
}

impl LocalRecord {
    /// A record that mirrors a server state, synchronized: what a first fetch produces.
    pub fn from_server(profile: ServerProfile, now: Millis) -> Self {
        Self {
            local: profile.fields(),
            base: Some(profile),
            synchronized: true,
            changed_at: None,
            last_synced_at: Some(now),
            conflict: None,
            sent: None,
            changed: Vec::new(),
            prepared: None,
            prepared_photo: None,
            answer: None,
            own: Vec::new(),
            online_sent: None,
            revision: 0,
            photos_on_server: Vec::new(),
        }
    }

    /// A record for an edit made before this device ever saw the server.
    pub fn from_local_edit(fields: ProfileFields, changed: Vec<Field>, now: Millis) -> Self {
        Self {
            local: fields,
            base: None,
            synchronized: false,
            changed_at: Some(now),
            last_synced_at: None,
            conflict: None,
            sent: None,
            changed,
            prepared: None,
            prepared_photo: None,
            answer: None,
            own: Vec::new(),
            online_sent: None,
            revision: 0,
            photos_on_server: Vec::new(),
        }
    }

    /// The revision a writer stores its record under, `read` being what it read from the
    /// store (`None`: nothing). The successor of the stored revision; a record that starts
    /// anew (none stored, or one from before revisions) takes a random start below 2^52, so
    /// a tab that still remembers a deleted record (signed out elsewhere) never finds its
    /// old revision in the new one. JavaScript numbers hold every value exactly.
    pub fn next_revision(read: Option<&LocalRecord>, entropy: &mut impl Entropy) -> u64 {
        match read {
            Some(record) if record.revision > 0 => record.revision + 1,
            _ => (entropy.next_u64() >> 12).max(1),
        }
    }

    /// Whether a writer that last read (or wrote) `read` may commit over `stored`, what the
    /// store holds now: nobody wrote in between. Revisions are compared; records from before
    /// revisions (0) are compared whole.
    pub fn unchanged_since(stored: Option<&LocalRecord>, read: Option<&LocalRecord>) -> bool {
        match (stored, read) {
            (None, None) => true,
            (Some(stored), Some(read)) if read.revision > 0 => stored.revision == read.revision,
            (Some(stored), Some(read)) => stored == read,
            _ => false,
        }
    }

    /// The server's word on the write `mutation` already in this record: the base a tab
    /// applied from its answer, or the answer the service worker stored beside the write.
    /// A writer that waited for the cross-tab lock to send a write reads the record first and
    /// asks this: a write another writer sent meanwhile is answered from the store, never
    /// sent twice (one PUT per change).
    pub fn answer_to(&self, mutation: &str) -> Option<&ServerProfile> {
        let names = |p: &&ServerProfile| p.mutation_id.as_deref() == Some(mutation);
        let kept = self
            .answer
            .as_ref()
            .filter(|_| !fault(Fault::StoredAnswerIgnored));
        self.base.as_ref().filter(names).or(kept.filter(names))
    }

    /// Whether signing out (or signing in as another account) may delete `stored`, what the
    /// device holds for the account when the delete runs, inside the same transaction: when
    /// nothing in it is unsynced, or when the person chose to discard exactly this revision
    /// after being warned (`confirmed`). A save made meanwhile by another tab or the service
    /// worker is a newer revision: it is kept, and the person is warned again.
    pub fn may_delete(stored: Option<&LocalRecord>, confirmed: Option<u64>) -> bool {
        match stored {
            None => true,
            Some(record) if !record.has_unsynced_changes() => true,
            Some(record) => record.revision > 0 && confirmed == Some(record.revision),
        }
    }

    /// Whether the two hold the same facts, whatever their revisions (a writer has nothing
    /// to commit when its new record is the one it read).
    pub fn same_content(&self, other: &LocalRecord) -> bool {
        *self
            == LocalRecord {
                revision: self.revision,
                ..other.clone()
            }
    }

    /// Whether something typed on this device has not been confirmed by the server: a
    /// pending change, a conflict, or a write whose outcome is unknown (either strategy's). Such a record must
    /// never be deleted from the device (signing out warns; switching account keeps it).
    pub fn has_unsynced_changes(&self) -> bool {
        !self.synchronized
            || self.conflict.is_some()
            || self.sent.is_some()
            || self.online_sent.is_some()
    }

    /// The fields of `patch` whose value here another device wrote after the person's form
    /// showed the field (`ProfilePatch::replaces`): saving them would replace a value the
    /// person never saw (compared with [`LocalRecord::other_side`]).
    ///
    /// Such a value differs from what the form showed, and is not this device's typing
    /// (another tab's, equal to the server's: typed back); or the server's field versions say
    /// the field changed there since the form showed it (`ProfilePatch::replaces_at`), changed
    /// and changed back too.
    pub fn unseen(&self, patch: &ProfilePatch) -> Vec<Field> {
        let (Some(seen), Some(other)) = (&patch.replaces, self.other_side()) else {
            return Vec::new();
        };
        let changed_back = |f: Field| {
            !fault(Fault::ChangedBackTypedOver)
                && patch
                    .replaces_at
                    .and_then(|at| other.changed_after(f, at.get(f)))
                    .unwrap_or(false)
        };
        patch
            .fields()
            .filter(|f| {
                let current = f.get(&self.local);
                (current != f.get(seen) && !self.changed.contains(f) || changed_back(*f))
                    && current == f.get(&other.fields())
                    && patch.get(*f) != Some(current)
                    && !self.wrote(*f, current, Some(other))
            })
            .collect()
    }

    /// What a page shows of this record: its values, and the version of the server state
    /// other devices' changes reach it through ([`LocalRecord::other_side`]).
    pub fn view(&self) -> RecordView {
        RecordView {
            fields: self.local.clone(),
            version: self.other_side().map_or(0, |s| s.version),
        }
    }

    /// The fields `remote` changed since the ancestor a merge of this record is made over
    /// (changed and changed back too), by the server's field versions: since `base`, or
    /// during a conflict since its other side, but its own fields always (they were changed
    /// there since their ancestor, possibly one older than `base`: what a form showed).
    /// `None` when the server state does not say.
    pub(super) fn changed_since_ancestor(&self, remote: &ServerProfile) -> Option<Vec<Field>> {
        let base = self.base.as_ref().map_or(0, |b| b.version);
        let since = |field: Field| match &self.conflict {
            Some(c) if c.fields.iter().any(|f| f.field == field) => 0,
            Some(c) => c.remote.version,
            None => base,
        };
        let versions = remote.field_versions?;
        Some(
            Field::ALL
                .into_iter()
                .filter(|&f| versions.get(f) > since(f))
                .collect(),
        )
    }

    /// The server state other devices' changes reach this device through: the conflict's
    /// while one is open, else the base.
    pub fn other_side(&self) -> Option<&ServerProfile> {
        self.conflict
            .as_ref()
            .map(|c| &c.remote)
            .or(self.base.as_ref())
    }

    /// Whether changes saved offline-first (or a conflict not settled) are not on the server
    /// yet: an online-only write must not leave beside them ([`super::OnlineSave`]).
    pub fn holds_pending_changes(&self) -> bool {
        !self.synchronized || self.sent.is_some() || self.conflict.is_some()
    }

    /// Whether `value` of `field`, as the server state `at` holds it, was written by this
    /// device: one of its latest accepted writes changed the field to it (that very write,
    /// by the field's version, where the server state says it: the same value put back there
    /// by another device is that device's), or its write in doubt does (it may have been
    /// applied: an online-only one left in doubt when the person chose offline-first writing
    /// before saving again, or the sync loop's, met on the server before its answer).
    pub fn wrote(&self, field: Field, value: &str, at: Option<&ServerProfile>) -> bool {
        let version = at.and_then(|p| p.field_versions).map(|v| v.get(field));
        let own_version = version.filter(|_| !fault(Fault::OwnMatchedByValue));
        // The write in doubt, if applied, made version `if_match + 1`: a field version after
        // it is a later change (the value put back there by another device).
        self.own.iter().any(|o| o.is(field, value, own_version))
            || [&self.online_sent, &self.sent]
                .into_iter()
                .flatten()
                .filter(|_| !fault(Fault::OnlineDoubtNotOwn))
                .any(|s| {
                    s.changes.contains(&field)
                        && field.get(&s.fields) == value
                        && version.is_none_or(|v| v <= s.if_match + 1)
                        && !at.is_some_and(|p| s.ruled_out_by(p))
                })
    }

    /// Makes an online-only write in doubt the write in doubt of offline-first sync once
    /// changes are saved on top of it (the person chose offline-first writing and saved
    /// again): sent again with its key before anything else, as any write in doubt. Only the
    /// server's word on its key tells whether it was applied: met in a later state, its values
    /// may be its own or another device's typing of the same, and the change saved on top
    /// would be merged against the wrong one.
    ///
    /// The fields typed in the save on top (`typed`) count among the record's changes, also
    /// where the value typed is the one the record held: once the write is applied, the
    /// fields not changed here take its values ([`SentWrite::online`]), and these must not.
    pub(super) fn online_doubt_first(&mut self, typed: &[Field]) {
        if self.sent.is_some() || (self.synchronized && self.conflict.is_none()) {
            return;
        }
        let Some(write) = self.online_sent.take() else {
            return;
        };
        for field in typed {
            if !self.changed.contains(field) {
                self.changed.push(*field);
            }
        }
        self.sent = Some(write);
    }

    /// Whether one of this device's latest accepted writes changed `field` to `value`
    /// ([`LocalRecord::own`]), whichever version it made.
    pub(super) fn accepted_own(&self, field: Field, value: &str) -> bool {
        self.own.iter().any(|o| o.is(field, value, None))
    }

    /// Whether `profile` is the outcome of this device's write in doubt (its mutation id).
    pub fn is_own_write(&self, profile: &ServerProfile) -> bool {
        self.sent
            .as_ref()
            .is_some_and(|s| profile.mutation_id.as_deref() == Some(s.mutation.as_str()))
    }

    /// The uploaded photo `fields` name (its SHA-256) if the server may not hold it yet: a
    /// write of them leaves only after its upload, or the server refuses it (422
    /// `photo_missing`) and another device would be told of a photo it cannot fetch. The
    /// server holds a photo this device uploaded, and one a server state this device knows
    /// names (the server keeps every photo a kept version names), unless it said otherwise
    /// (`missing`: it answered `photo_missing` to a write naming it).
    pub fn photo_to_upload<'a>(
        &self,
        fields: &'a ProfileFields,
        missing: &[String],
    ) -> Option<&'a str> {
        let sha = uploaded_photo(&fields.photo_url)?;
        if fault(Fault::WriteBeforeUpload) {
            return None;
        }
        if missing.iter().any(|m| m == sha) {
            return Some(sha);
        }
        let known = |p: Option<&ServerProfile>| {
            p.is_some_and(|p| uploaded_photo(&p.photo_url) == Some(sha))
        };
        let held = self.photos_on_server.iter().any(|s| s == sha)
            || known(self.base.as_ref())
            || known(self.conflict.as_ref().map(|c| &c.remote));
        (!held).then_some(sha)
    }

    /// The photo of the values shown here that waits for its upload (the page says so).
    pub fn photo_waiting(&self) -> Option<&str> {
        self.photo_to_upload(&self.local, &[])
            .filter(|_| !self.synchronized)
    }

    /// The server said it holds photo `sha` (its upload was answered 201 or 200).
    pub fn photo_stored(&mut self, sha: &str) {
        if !self.photos_on_server.iter().any(|s| s == sha) {
            self.photos_on_server.push(sha.to_owned());
        }
        self.keep_named_photos();
    }

    /// The server does not hold photo `sha` (it answered `photo_missing`).
    pub fn photo_gone(&mut self, sha: &str) {
        self.photos_on_server.retain(|s| s != sha);
    }

    /// The uploaded photos (SHA-256) the values of this record that may still be written name:
    /// what the person sees, the write in doubt, the prepared one, an online-only one. Their
    /// bytes must stay on the device, and only their uploads are worth remembering.
    pub fn named_photos(&self) -> impl Iterator<Item = &str> {
        [
            Some(&self.local),
            self.sent.as_ref().map(|w| &w.fields),
            self.prepared.as_ref().map(|w| &w.fields),
            self.online_sent.as_ref().map(|w| &w.fields),
        ]
        .into_iter()
        .flatten()
        .filter_map(|f| uploaded_photo(&f.photo_url))
    }

    /// Forgets the uploads no value of this record that may still be written names.
    pub fn keep_named_photos(&mut self) {
        let named: Vec<String> = self.named_photos().map(str::to_owned).collect();
        self.photos_on_server.retain(|sha| named.contains(sha));
    }

    /// The version of the server state this device knows (the newest of `base` and a
    /// conflict's remote), 0 if none: pushes for versions up to this one bring nothing new.
    pub fn known_version(&self) -> u64 {
        let base = self.base.as_ref().map_or(0, |b| b.version);
        let remote = self.conflict.as_ref().map_or(0, |c| c.remote.version);
        base.max(remote)
    }
}

/// A stale write whose merge needs the person's decision.
///
/// While it lasts, [`LocalRecord::local`] holds the merge with "mine" on the conflicting
/// fields (so the form already shows the other side's clean changes), [`LocalRecord::base`]
/// the last server state this device's values were based on, and [`Conflict::ancestor`] the
/// values both sides agree on, so a newer server state or a new local edit is merged again
/// without taking the other side's absorbed changes for this device's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The fields changed on both sides to different values, with both values.
    pub fields: Vec<FieldConflict>,
    /// The server state the conflict is against; resolving writes with its version as
    /// `If-Match`.
    pub remote: ServerProfile,
    /// The common ancestor for merging again while the conflict lasts: `remote`'s values,
    /// with the old ancestor's on the conflicting fields. (`None` in conflicts stored by
    /// older builds: `base` is used then.)
    #[serde(default)]
    pub ancestor: Option<ProfileFields>,
    /// This device's value in it may have been on the server when the other side was written,
    /// so the other side may be a change made over it by someone who saw it: its write may
    /// have been applied (the server forgot its key: 409 `history_pruned`; or an online-only
    /// write's answer was lost), or was (one of this device's accepted writes' values, saved
    /// again), or the value is the ancestor's (typed back to it). The person settles it,
    /// whatever the policy ("This device wins" does not). When the other side is the
    /// ancestor's value itself (the server holds what a forgotten write replaced: never
    /// applied, or changed back), "The other device wins" does not settle it either, as there
    /// may be no other device's change. The name is kept for the records stored with it.
    #[serde(default)]
    pub own_write_unknown: bool,
}

impl Conflict {
    /// The values `choice` gives the conflicting fields (for an edit, those it sets).
    pub fn chosen(&self, choice: &Resolution) -> ProfilePatch {
        let mut values = ProfilePatch::default();
        for c in &self.fields {
            let value = match choice {
                Resolution::KeepMine => Some(c.mine.as_str()),
                Resolution::UseTheirs => Some(c.theirs.as_str()),
                Resolution::Edit(patch) => patch.get(c.field),
            };
            if let Some(value) = value {
                values.set(c.field, value.to_owned());
            }
        }
        values
    }
}

/// The person's answer to a conflict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// Keep this device's values for the conflicting fields (button "Keep mine").
    KeepMine,
    /// Take the server's values for the conflicting fields (button "Use theirs").
    UseTheirs,
    /// New values typed while looking at both sides, for the fields typed in only (a patch:
    /// the dialog may have been filled from an older record than the device holds now).
    Edit(ProfilePatch),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::SplitMix64;

    fn record(name: &str, revision: u64) -> LocalRecord {
        let fields = ProfileFields {
            name: name.to_owned(),
            photo_url: String::new(),
        };
        LocalRecord {
            revision,
            ..LocalRecord::from_local_edit(fields, vec![Field::Name], 1)
        }
    }

    #[test]
    fn revisions_follow_the_stored_one_and_start_at_random() {
        let mut entropy = SplitMix64(7);
        assert_eq!(
            LocalRecord::next_revision(Some(&record("a", 41)), &mut entropy),
            42
        );
        let fresh = LocalRecord::next_revision(None, &mut entropy);
        let legacy = LocalRecord::next_revision(Some(&record("a", 0)), &mut entropy);
        for start in [fresh, legacy] {
            assert!((1..1 << 52).contains(&start), "{start}");
        }
        assert_ne!(fresh, legacy);
    }

    #[test]
    fn a_commit_is_allowed_only_over_what_the_writer_read() {
        let read = record("a", 5);
        assert!(LocalRecord::unchanged_since(Some(&read), Some(&read)));
        assert!(LocalRecord::unchanged_since(None, None));
        assert!(!LocalRecord::unchanged_since(
            Some(&record("a", 6)),
            Some(&read)
        ));
        assert!(!LocalRecord::unchanged_since(None, Some(&read)));
        assert!(!LocalRecord::unchanged_since(Some(&read), None));
        // Records from before revisions are compared whole.
        assert!(LocalRecord::unchanged_since(
            Some(&record("a", 0)),
            Some(&record("a", 0))
        ));
        assert!(!LocalRecord::unchanged_since(
            Some(&record("b", 0)),
            Some(&record("a", 0))
        ));
    }

    #[test]
    fn only_synced_records_or_the_confirmed_revision_are_deleted() {
        let synced = LocalRecord {
            revision: 3,
            ..LocalRecord::from_server(
                crate::wire::ServerProfile {
                    name: "a".into(),
                    photo_url: String::new(),
                    version: 1,
                    updated_at: "t".into(),
                    mutation_id: None,
                    field_versions: None,
                },
                1,
            )
        };
        assert!(LocalRecord::may_delete(None, None));
        assert!(LocalRecord::may_delete(Some(&synced), None));
        let pending = record("typed", 4);
        assert!(!LocalRecord::may_delete(Some(&pending), None));
        assert!(
            !LocalRecord::may_delete(Some(&pending), Some(3)),
            "a newer save than warned about"
        );
        assert!(LocalRecord::may_delete(Some(&pending), Some(4)));
        assert!(!LocalRecord::may_delete(Some(&record("typed", 0)), Some(0)));
    }

    #[test]
    fn same_content_ignores_the_revision() {
        assert!(record("a", 1).same_content(&record("a", 9)));
        assert!(!record("a", 1).same_content(&record("b", 1)));
    }
}
