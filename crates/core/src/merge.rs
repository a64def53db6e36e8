//! Per-field three-way merge, used when a write turns out to be stale (HTTP 412).
//!
//! A profile has two independent fields, so two devices that changed *different* fields never
//! conflict: each keeps the other's change. Only a field changed on both sides to different
//! values is a real conflict, and [`ConflictPolicy`] decides who settles it.

use serde::{Deserialize, Serialize};

use crate::wire::ProfileFields;

/// One editable field of a profile, so conflicts can name the field they are about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The display name.
    Name,
    /// The photo URL.
    PhotoUrl,
}

impl Field {
    /// Every field, in the order the UI shows them, so loops cannot forget one.
    pub const ALL: [Field; 2] = [Field::Name, Field::PhotoUrl];

    /// The label people see for this field (the same as the form's textbox label).
    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "Name",
            Field::PhotoUrl => "Photo URL",
        }
    }

    /// Reads this field of `fields`, so merge code is written once for all fields.
    pub fn get(self, fields: &ProfileFields) -> &str {
        match self {
            Field::Name => &fields.name,
            Field::PhotoUrl => &fields.photo_url,
        }
    }

    /// Writes this field of `fields`.
    pub fn set(self, fields: &mut ProfileFields, value: String) {
        match self {
            Field::Name => fields.name = value,
            Field::PhotoUrl => fields.photo_url = value,
        }
    }
}

/// A field changed on this device and on the server to different values: both are kept here
/// so the person can see what they are choosing between.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// Which field.
    pub field: Field,
    /// This device's value.
    pub mine: String,
    /// The server's value.
    pub theirs: String,
}

/// Who settles a true conflict. Asking is the default because silently dropping either side
/// would be a lost update the person never agreed to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// Stop and show both values; the person chooses.
    #[default]
    Ask,
    /// This device's value overwrites the server's.
    LocalWins,
    /// The server's value replaces this device's.
    RemoteWins,
}

/// The result of [`three_way`]: the merged fields and the fields that truly conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merge {
    /// Every clean field merged; a conflicting field holds *this device's* value, so the
    /// result is what "keep mine" means.
    pub merged: ProfileFields,
    /// The fields changed on both sides to different values, in [`Field::ALL`] order.
    pub conflicts: Vec<FieldConflict>,
}

impl Merge {
    /// Whether nothing conflicts, so the merge needs nobody's decision.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }

    /// The merge with every conflict settled for the server ("use theirs").
    pub fn with_theirs(&self) -> ProfileFields {
        let mut fields = self.merged.clone();
        for c in &self.conflicts {
            c.field.set(&mut fields, c.theirs.clone());
        }
        fields
    }

    /// The merge settled by `policy`, or `None` when the policy is to ask the person.
    pub fn settle(&self, policy: ConflictPolicy) -> Option<ProfileFields> {
        match policy {
            _ if self.is_clean() => Some(self.merged.clone()),
            ConflictPolicy::Ask => None,
            ConflictPolicy::LocalWins => Some(self.merged.clone()),
            ConflictPolicy::RemoteWins => Some(self.with_theirs()),
        }
    }
}

/// Merges `local` and `remote` field by field against their common ancestor `base`.
///
/// Changed only locally: local. Changed only remotely: remote. Changed on both to the same
/// value: that value. Changed on both to different values: a [`FieldConflict`]. With no known
/// base (this device edited before it ever saw the server), the remote is taken as the base,
/// so every local difference counts as a local change and wins: the person's typing is never
/// thrown away for lack of history.
///
/// A field in `touched` was typed in here: a change even when it is back at the base value
/// (changed and changed back, or typed over another value), so a different remote value is a
/// conflict, not taken silently over what the person typed last. A field in `changed_back`
/// may have been changed on the remote side and back to the base value: a change there too,
/// so a different local value is a conflict, not written over it unasked.
pub fn three_way(
    base: Option<&ProfileFields>,
    local: &ProfileFields,
    remote: &ProfileFields,
    touched: &[Field],
    changed_back: &[Field],
) -> Merge {
    let base = base.unwrap_or(remote);
    let mut merged = local.clone();
    let mut conflicts = Vec::new();
    for field in Field::ALL {
        let (b, l, r) = (field.get(base), field.get(local), field.get(remote));
        if l == r || r == b && !changed_back.contains(&field) {
            // Same on both sides, or only the local side changed: keep local.
        } else if l == b && !touched.contains(&field) {
            field.set(&mut merged, r.to_owned());
        } else {
            conflicts.push(FieldConflict {
                field,
                mine: l.to_owned(),
                theirs: r.to_owned(),
            });
        }
    }
    Merge { merged, conflicts }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields written `"name/photo"`.
    fn f(both: &str) -> ProfileFields {
        let (name, photo) = both.split_once('/').unwrap_or((both, ""));
        ProfileFields::new(name, photo)
    }

    #[test]
    fn a_field_changed_on_one_side_or_alike_on_both_merges_cleanly() {
        // (base, mine, theirs, merged)
        for (base, mine, theirs, merged) in [
            ("a/p", "a/p", "a/p", "a/p"), // unchanged everywhere
            ("a/p", "b/p", "a/p", "b/p"), // changed only here: kept
            ("a/p", "a/p", "a/q", "a/q"), // changed only there: taken
            ("a/p", "b/p", "a/q", "b/q"), // different fields on each side
            ("a/p", "b/p", "b/p", "b/p"), // the same change on both sides
        ] {
            let m = three_way(Some(&f(base)), &f(mine), &f(theirs), &[], &[]);
            assert_eq!(m.merged, f(merged), "{base} {mine} {theirs}");
            assert!(m.is_clean(), "{base} {mine} {theirs}");
        }
    }

    #[test]
    fn different_changes_conflict_and_policies_settle() {
        let m = three_way(Some(&f("a/p")), &f("b/p"), &f("c/q"), &[], &[]);
        assert_eq!(
            m.conflicts,
            vec![FieldConflict {
                field: Field::Name,
                mine: "b".into(),
                theirs: "c".into()
            }]
        );
        assert_eq!(m.merged, f("b/q"));
        assert_eq!(m.settle(ConflictPolicy::Ask), None);
        assert_eq!(m.settle(ConflictPolicy::LocalWins), Some(f("b/q")));
        assert_eq!(m.settle(ConflictPolicy::RemoteWins), Some(f("c/q")));
    }

    #[test]
    fn a_field_that_may_have_been_changed_back_there_is_a_change_there() {
        let m = three_way(Some(&f("a/p")), &f("b/p"), &f("a/q"), &[], &[Field::Name]);
        assert_eq!(
            m.conflicts,
            vec![FieldConflict {
                field: Field::Name,
                mine: "b".into(),
                theirs: "a".into()
            }]
        );
        assert_eq!(m.merged, f("b/q"), "the photo changed only there is taken");
        // Unchanged here, it is the base value on both sides: nothing to ask.
        let m = three_way(Some(&f("a/p")), &f("a/p"), &f("a/q"), &[], &[Field::Name]);
        assert!(m.is_clean());
        assert_eq!(m.merged, f("a/q"));
    }

    #[test]
    fn a_field_typed_back_to_the_base_value_is_still_a_change_here() {
        let m = three_way(Some(&f("a/p")), &f("a/p"), &f("c/q"), &[Field::Name], &[]);
        assert_eq!(
            m.conflicts,
            vec![FieldConflict {
                field: Field::Name,
                mine: "a".into(),
                theirs: "c".into()
            }]
        );
        assert_eq!(m.merged, f("a/q"), "the untouched photo is taken");
    }

    #[test]
    fn both_fields_conflict() {
        let m = three_way(Some(&f("a/p")), &f("b/r"), &f("c/q"), &[], &[]);
        assert_eq!(m.conflicts.len(), 2);
        assert_eq!(m.with_theirs(), f("c/q"));
    }

    #[test]
    fn no_base_means_local_wins() {
        let m = three_way(None, &f("b/p"), &f("c/q"), &[], &[]);
        assert_eq!(m.merged, f("b/p"));
        assert!(m.is_clean());
    }

    #[test]
    fn names_labels_and_serde() {
        assert_eq!(Field::Name.label(), "Name");
        assert_eq!(Field::PhotoUrl.label(), "Photo URL");
        let json = serde_json::to_string(&Field::PhotoUrl).expect("ser");
        assert_eq!(json, "\"photo_url\"");
        for (p, s) in [
            (ConflictPolicy::Ask, "ask"),
            (ConflictPolicy::LocalWins, "local-wins"),
            (ConflictPolicy::RemoteWins, "remote-wins"),
        ] {
            crate::test_support::named(&p, s);
        }
        assert_eq!(ConflictPolicy::default(), ConflictPolicy::Ask);
    }
}
