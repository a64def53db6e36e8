//! A save as the person meant it: the fields they changed, not a snapshot of the whole form.
//!
//! A form is filled from some stored state (its *baseline*) and may be saved long after that
//! state was replaced by another tab, the service worker or a push. Sending the whole form
//! would write the baseline's untouched values back over the newer ones. A [`ProfilePatch`]
//! carries only the fields that differ from the baseline, and every writer applies it with
//! [`ProfilePatch::apply`] to the newest record it has, so an untouched field is never
//! reverted.

use serde::{Deserialize, Serialize};

use crate::faults::{Fault, on as fault};
use crate::merge::Field;
use crate::validate::{self, FieldError};
use crate::wire::{FieldVersions, ProfileFields};

/// The fields a person changed, each with its new value; `None` means "not touched".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProfilePatch {
    /// The new display name, if the person changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new photo URL, if the person changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    /// What the form showed in each field before the person typed (its baseline), when a
    /// form made the patch. A field whose stored value another device changed since then
    /// would be replaced unseen: the core asks instead (see `SyncMachine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<ProfileFields>,
    /// Per field, the newest server version the form knew when it showed that field's
    /// `replaces` value: a field changed there and back since then holds the same value but a
    /// newer [`crate::wire::ServerProfile::field_versions`], and is asked about too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_at: Option<FieldVersions>,
}

/// What a page shows of the stored record: its values and the newest server version behind
/// them ([`crate::sync::LocalRecord::view`]). A save typed over them says both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordView {
    /// The record's values.
    pub fields: ProfileFields,
    /// The version of the server state the record's values were last measured against.
    pub version: u64,
}

impl ProfilePatch {
    /// The fields of `edited` that differ from `baseline`, the state the form was filled from.
    pub fn between(baseline: &ProfileFields, edited: &ProfileFields) -> Self {
        let mut patch = Self::default();
        for field in Field::ALL {
            if field.get(baseline) != field.get(edited) {
                patch.set(field, field.get(edited).to_owned());
            }
        }
        patch
    }

    /// A patch that sets every field: a save with nothing to compare against.
    pub fn all(fields: &ProfileFields) -> Self {
        Self {
            name: Some(fields.name.clone()),
            photo_url: Some(fields.photo_url.clone()),
            ..Self::default()
        }
    }

    /// A save of `value` in `field`, made over what the page shows (`over`).
    pub fn typed_over(field: Field, value: String, over: &RecordView) -> Self {
        let mut patch = Self {
            replaces: Some(over.fields.clone()),
            replaces_at: Some(FieldVersions::all(over.version)),
            ..Self::default()
        };
        patch.set(field, value);
        patch
    }

    /// The new value of `field`, if the patch touches it.
    pub fn get(&self, field: Field) -> Option<&str> {
        match field {
            Field::Name => self.name.as_deref(),
            Field::PhotoUrl => self.photo_url.as_deref(),
        }
    }

    /// Sets the new value of `field`.
    pub fn set(&mut self, field: Field, value: String) {
        match field {
            Field::Name => self.name = Some(value),
            Field::PhotoUrl => self.photo_url = Some(value),
        }
    }

    /// The fields the patch touches, in [`Field::ALL`] order.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        Field::ALL.into_iter().filter(|f| self.get(*f).is_some())
    }

    /// Whether the patch touches no field.
    pub fn is_empty(&self) -> bool {
        self.fields().next().is_none()
    }

    /// Whether `fields` hold every value of this patch (the save is in them). During a
    /// conflict "mine" is in the record's values too, so this holds for a save stored there.
    pub fn is_in(&self, fields: &ProfileFields) -> bool {
        self.fields().all(|f| Some(f.get(fields)) == self.get(f))
    }

    /// `fields` with this patch's values written over it: the one way every writer applies a
    /// save.
    pub fn apply(&self, fields: &ProfileFields) -> ProfileFields {
        let mut out = fields.clone();
        for field in self.fields() {
            if let Some(value) = self.get(field) {
                field.set(&mut out, value.to_owned());
            }
        }
        out
    }

    /// Checks every touched field with the server's rules and returns the patch in its
    /// stored form (see [`validate::normalize`]).
    pub fn validated(&self) -> Result<Self, FieldError> {
        if let Some(name) = &self.name {
            validate::name(name)?;
        }
        if let Some(url) = &self.photo_url {
            validate::photo_url(url)?;
        }
        Ok(Self {
            name: self.name.as_ref().map(|n| n.trim().to_owned()),
            photo_url: self.photo_url.as_ref().map(|u| u.trim().to_owned()),
            ..self.clone()
        })
    }
}

/// What an edit form holds: per field, the stored value it was filled from (`baseline`) and
/// what the field shows now (`shown`), plus the field that has the focus. A field the person
/// has not changed (`shown == baseline`) and is not in keeps following the stored record; a
/// changed one keeps the typing and its old baseline, so the save is a patch of exactly the
/// changed fields. The field the person is in never changes under them, even untouched: a
/// value arriving between their click and their first key would otherwise have their typing
/// added to it (`"<server name><typed>"` saved and synced). It catches up when they leave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileForm {
    /// The stored values each field was last filled from.
    pub baseline: ProfileFields,
    /// Per field, the server version behind its baseline ([`RecordView::version`]).
    baseline_at: FieldVersions,
    /// What each field shows.
    pub shown: ProfileFields,
    /// The newest stored values: what an untouched field takes when the person leaves it.
    stored: RecordView,
    /// The field the person is in, if any.
    focused: Option<Field>,
    /// Whether the form was filled from a stored record yet. Before that it shows nothing
    /// and takes no typing (the page keeps it read-only): an edit there would replace values
    /// nobody saw.
    filled: bool,
}

impl ProfileForm {
    /// A form filled from `stored`.
    pub fn new(stored: &RecordView) -> Self {
        Self {
            baseline: stored.fields.clone(),
            baseline_at: FieldVersions::all(stored.version),
            shown: stored.fields.clone(),
            stored: stored.clone(),
            focused: None,
            filled: true,
        }
    }

    /// A form with nothing stored to fill it from yet: empty and read-only until the first
    /// [`ProfileForm::follow`], which fills every field, the focused one too (nothing can
    /// have been typed into it), and says which field the person is in: the page selects
    /// its text then, so the keys they press next replace the value that appeared rather
    /// than land after it (`"<server name><typed>"`, saved and synced).
    pub fn unfilled() -> Self {
        Self {
            filled: fault(Fault::EarlySave),
            ..Self::default()
        }
    }

    /// Whether the person can type in it (it was filled from a stored record).
    pub fn is_filled(&self) -> bool {
        self.filled
    }

    /// The stored record changed (a push, another tab, a sync): untouched fields take the
    /// new values, fields being edited keep the typing, and the field the person is in keeps
    /// what it shows until they leave it. The first time (see [`ProfileForm::unfilled`]),
    /// the field the person is in, filled under them: its text is to be selected.
    #[must_use = "a field filled under the person must have its text selected"]
    pub fn follow(&mut self, stored: &RecordView) -> Option<Field> {
        self.stored = stored.clone();
        if !self.filled {
            *self = Self {
                focused: self.focused,
                ..Self::new(stored)
            };
            return self
                .focused
                .filter(|_| !fault(Fault::FirstFillUnderFocusUnselected));
        }
        if fault(Fault::FormSendsEveryField) && self.patch_of_changes().fields().next().is_some() {
            return None;
        }
        for field in Field::ALL {
            if self.focused != Some(field) || fault(Fault::FocusedFieldFollows) {
                self.catch_up(field);
            }
        }
        None
    }

    /// Whether the person changed `field`: what it shows differs from what it was filled
    /// from, as the server keeps values (without the spaces around them: "Ann " saved is
    /// "Ann", and the field is untouched again once it is stored).
    fn edited(&self, field: Field) -> bool {
        field.get(&self.shown).trim() != field.get(&self.baseline).trim()
    }

    /// An untouched `field` takes the newest stored value.
    fn catch_up(&mut self, field: Field) {
        if !self.edited(field) {
            let value = field.get(&self.stored.fields).to_owned();
            field.set(&mut self.shown, value.clone());
            self.rebase(field, value);
        }
    }

    /// `field`'s typing (if any) is now made over `value`, as stored now.
    fn rebase(&mut self, field: Field, value: String) {
        field.set(&mut self.baseline, value);
        self.baseline_at.set(field, self.stored.version);
    }

    /// The person entered `field` (it has the focus).
    pub fn focus(&mut self, field: Field) {
        self.focused = Some(field);
    }

    /// The person left `field`: if they did not change it, it shows the stored value now.
    pub fn blur(&mut self, field: Field) {
        if self.focused == Some(field) {
            self.focused = None;
            self.catch_up(field);
        }
    }

    /// The person typed `value` into `field`.
    pub fn input(&mut self, field: Field, value: String) {
        field.set(&mut self.shown, value);
    }

    /// The save to make: the changed fields.
    pub fn patch(&self) -> ProfilePatch {
        let changes = self.patch_of_changes();
        if fault(Fault::FormSendsEveryField) && !changes.is_empty() {
            return ProfilePatch::all(&self.shown);
        }
        changes
    }

    fn patch_of_changes(&self) -> ProfilePatch {
        let mut patch = ProfilePatch::default();
        for field in Field::ALL.into_iter().filter(|f| self.edited(*f)) {
            patch.set(field, field.get(&self.shown).to_owned());
        }
        if patch.is_empty() {
            return patch;
        }
        ProfilePatch {
            replaces: Some(self.baseline.clone()),
            replaces_at: Some(self.baseline_at),
            ..patch
        }
    }

    /// `patch` was stored: its fields that still show the saved value are untouched again
    /// (typing that went on during the save stays an edit). The value is compared as the
    /// server keeps it: "Ann " saved as "Ann" is saved.
    pub fn saved(&mut self, patch: &ProfilePatch) {
        for field in patch.fields() {
            if let Some(value) = patch.get(field)
                && field.get(&self.shown).trim() == value.trim()
            {
                self.rebase(field, value.trim().to_owned());
            }
        }
    }

    /// The person was told that the fields they typed in changed elsewhere since the form
    /// showed them: they have seen the stored values now, so those become what the typing
    /// replaces (a save again is their choice, made having seen them).
    pub fn seen_stored(&mut self) {
        for field in Field::ALL {
            if self.edited(field) {
                let stored = field.get(&self.stored.fields).to_owned();
                self.rebase(field, stored);
            }
        }
    }

    /// The person settled a conflict, choosing `chosen` for its fields (having seen both
    /// sides in the dialog). A field they were typing in keeps the typing, now as an edit
    /// over the value they chose; every other field is as it was (following the record, or
    /// keeping its typing over what it replaced).
    pub fn settled(&mut self, chosen: &ProfilePatch) {
        if fault(Fault::ChoiceDropsTyping) {
            self.baseline = self.shown.clone();
            return;
        }
        for field in chosen.fields() {
            if let Some(value) = chosen.get(field)
                && self.edited(field)
            {
                self.rebase(field, value.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, photo: &str) -> ProfileFields {
        ProfileFields {
            name: name.into(),
            photo_url: photo.into(),
        }
    }

    /// A stored record of these values, at version 1.
    fn r(name: &str, photo: &str) -> RecordView {
        RecordView {
            fields: f(name, photo),
            version: 1,
        }
    }

    #[test]
    fn a_patch_holds_only_what_changed_and_keeps_the_rest_of_a_newer_record() {
        let baseline = f("Ann", "");
        let patch = ProfilePatch::between(&baseline, &f("Anna", ""));
        assert_eq!(patch.fields().collect::<Vec<_>>(), vec![Field::Name]);
        // Another device set the photo after the form was filled: it stays.
        let newer = f("Ann", "https://p/1");
        assert_eq!(patch.apply(&newer), f("Anna", "https://p/1"));
        assert!(patch.is_in(&patch.apply(&newer)));
        assert!(!patch.is_in(&newer));
    }

    #[test]
    fn an_unchanged_form_is_an_empty_patch() {
        let patch = ProfilePatch::between(&f("a", "b"), &f("a", "b"));
        assert!(patch.is_empty());
        assert_eq!(patch.apply(&f("x", "y")), f("x", "y"));
        assert!(!ProfilePatch::all(&f("a", "b")).is_empty());
    }

    #[test]
    fn validation_checks_touched_fields_and_normalizes() {
        let ok = ProfilePatch {
            name: Some("  Ann ".into()),
            ..ProfilePatch::default()
        };
        assert_eq!(ok.validated().expect("valid").name.as_deref(), Some("Ann"));
        let bad = ProfilePatch {
            photo_url: Some("ftp://x".into()),
            ..ProfilePatch::default()
        };
        assert_eq!(bad.validated().expect_err("invalid").field, "photo_url");
    }

    #[test]
    fn a_form_follows_the_store_in_untouched_fields_only() {
        let mut form = ProfileForm::new(&r("Ann", ""));
        form.input(Field::Name, "Anna".into());
        // Another device set the photo and, earlier, the name: the photo shows up, the
        // typing stays, and the save touches the name only.
        assert_eq!(form.follow(&r("Annie", "https://p/1")), None);
        assert_eq!(form.shown, f("Anna", "https://p/1"));
        let patch = form.patch();
        assert_eq!(patch.fields().collect::<Vec<_>>(), vec![Field::Name]);
        assert_eq!(
            patch.apply(&f("Annie", "https://p/2")),
            f("Anna", "https://p/2")
        );
        form.saved(&patch);
        assert!(form.patch().is_empty());
        assert_eq!(form.follow(&r("Bea", "https://p/3")), None);
        assert_eq!(form.shown, f("Bea", "https://p/3"));
    }

    #[test]
    fn a_value_saved_with_spaces_around_it_is_saved() {
        let mut form = ProfileForm::new(&r("Ann", ""));
        form.focus(Field::Name);
        form.input(Field::Name, "Bea ".into());
        let patch = form.patch();
        form.saved(&patch.validated().expect("valid"));
        assert!(
            form.patch().is_empty(),
            "stored as \"Bea\": nothing left to save"
        );
        // So the field follows the record again once the person leaves it.
        assert_eq!(form.follow(&r("Cy", "")), None);
        form.blur(Field::Name);
        assert_eq!(form.shown.name, "Cy");
        // Spaces typed around the stored value change nothing either.
        form.input(Field::Name, " Cy".into());
        assert!(form.patch().is_empty());
    }

    #[test]
    fn a_conflict_choice_keeps_the_typing_in_every_field() {
        let mut form = ProfileForm::new(&r("Mine", "https://p/1"));
        form.input(Field::Name, "Typed name".into());
        form.input(Field::PhotoUrl, "https://p/typed".into());
        // The conflict is on the name; the person chooses the other device's.
        let chosen = ProfilePatch {
            name: Some("Theirs".into()),
            ..ProfilePatch::default()
        };
        form.settled(&chosen);
        assert_eq!(form.follow(&r("Theirs", "https://p/1")), None);
        assert_eq!(form.shown, f("Typed name", "https://p/typed"));
        let patch = form.patch();
        assert_eq!(
            patch.replaces,
            Some(f("Theirs", "https://p/1")),
            "the typed name replaces the value chosen, which the person saw"
        );
    }

    #[test]
    fn typing_during_a_save_stays_an_edit() {
        let mut form = ProfileForm::new(&r("Ann", ""));
        form.input(Field::Name, "Anna".into());
        let patch = form.patch();
        form.input(Field::Name, "Anna B".into());
        form.saved(&patch);
        assert_eq!(form.patch().name.as_deref(), Some("Anna B"));
    }

    #[test]
    fn the_field_the_person_is_in_does_not_change_under_them() {
        // Another device's name lands between the click into the Name box and the first key.
        let mut form = ProfileForm::new(&r("Ann", ""));
        form.focus(Field::Name);
        assert_eq!(form.follow(&r("Bea", "https://p/1")), None);
        assert_eq!(
            form.shown,
            f("Ann", "https://p/1"),
            "only the field not in focus follows"
        );
        form.input(Field::Name, "Stored here".into());
        let patch = form.patch();
        assert_eq!(patch.name.as_deref(), Some("Stored here"));
        assert_eq!(patch.photo_url, None);
        assert_eq!(
            patch.replaces.map(|r| r.name),
            Some("Ann".to_owned()),
            "the save says what the person typed over"
        );
        form.blur(Field::Name);
        assert_eq!(
            form.shown.name, "Stored here",
            "typing stays after leaving the field"
        );
    }

    #[test]
    fn a_first_fill_with_no_field_in_use_selects_nothing() {
        let mut form = ProfileForm::unfilled();
        assert_eq!(form.follow(&r("ann_2", "")), None);
        assert_eq!(form.shown, f("ann_2", ""));
    }

    #[test]
    fn a_form_with_nothing_stored_fills_every_field_first() {
        let mut form = ProfileForm::unfilled();
        assert!(!form.is_filled());
        form.focus(Field::Name);
        assert_eq!(
            form.follow(&r("ann_2", "https://p/1")),
            Some(Field::Name),
            "filled under the person: its text is selected"
        );
        assert!(form.is_filled());
        assert_eq!(
            form.shown,
            f("ann_2", "https://p/1"),
            "the focused field too"
        );
        assert!(form.patch().is_empty());
        assert_eq!(form.follow(&r("Bea", "")), None);
        assert_eq!(
            form.shown.name, "ann_2",
            "from then on the focused field keeps its value"
        );
    }

    #[test]
    fn an_untouched_field_catches_up_when_the_person_leaves_it() {
        let mut form = ProfileForm::new(&r("Ann", ""));
        form.focus(Field::Name);
        assert_eq!(form.follow(&r("Bea", "")), None);
        assert_eq!(form.shown.name, "Ann");
        assert!(
            form.patch().is_empty(),
            "an untouched focused field is not a change"
        );
        // Leaving another field changes nothing here.
        form.blur(Field::PhotoUrl);
        assert_eq!(form.shown.name, "Ann");
        form.blur(Field::Name);
        assert_eq!(form.shown.name, "Bea");
        assert!(form.patch().is_empty());
    }
}
