//! The simulated world of the model test: devices with tabs, a service worker and one device
//! store each, a network that loses, delays, duplicates and reorders, and a server with
//! `If-Match` and `Idempotency-Key` semantics. Each piece does what the real shell does:
//!
//! * A tab is the app's own core type, `TabSync`, performed as the repository's driver performs
//!   it: each `Step::Commit` is committed with the device store's compare and its result
//!   reported back (the core re-applies the input on another writer's newer record), then the
//!   actions are performed. A commit tells the device's other tabs (BroadcastChannel), which
//!   re-read the store and hand it to their `TabSync::stored`.
//! * A save is `LocalEdit(patch)` of the fields the person typed in, whatever the form was
//!   filled from and however stale the tab's view of the store is. On a device set to
//!   online-only writing, a save is the core's `OnlineSave` instead, performed as
//!   `writes.rs` performs it: its `Store` steps committed like any input, its PUTs sent
//!   straight from the tab (no lock) and their answers handed back; an answer that does not
//!   come ends the save with its write in doubt on the device.
//! * The server sometimes refuses a write with its own JSON error (a 4xx): nothing applied.
//! * The server prunes its history (keeping the last one or two versions), now and then and
//!   often right after a write: a resend whose key went with a pruned version is answered
//!   `PutForgotten` (409 `history_pruned`), as the real stores answer it.
//! * Requests go out under the device's lock (Web Locks), held until the answer is handled;
//!   a PUT whose mutation is already the stored base is answered from the store.
//! * The service worker (Background Sync) follows `static/sw.js`: under the same lock it sends
//!   the write in doubt, or first moves the core's prepared write to `sent` (after uploading
//!   the photo the core marked for it, from the device store), and stores the server's word
//!   on it beside it as `answer` for the core to apply.
//! * Settings are per device: the person picks a conflict policy in one tab (sometimes
//!   instead of answering a conflict on screen); it is stored, in force in that tab, and
//!   announced to the others, which re-read it when the message arrives. Every commit reads
//!   the settings in its transaction (`Commit::policy`), and no commit may be decided
//!   under a policy other than the device's.
//! * Tabs are reloaded, closed and reopened at any point (their lock and their requests'
//!   answers are gone; what the server applied stays). A device also loses power (or its
//!   browser quits) at random moments and just after one of its writes left: every tab and
//!   the service worker stop at once, the worker in the middle of its request with the lock
//!   released, and the write on the wire may still be applied while the next writer sends it
//!   again.
//! * The person signs out, or signs in as another account, and later back in: the record is
//!   deleted only inside the transaction that finds it synced, or finds exactly the revision
//!   the person was warned about and chose to discard (`LocalRecord::may_delete`); the
//!   device's tabs hear it later (BroadcastChannel) and stop; a tab that finds the record
//!   gone when it commits stops too.
//! * A device's browser now and then clears its stored photos (the records stay): a tab that
//!   goes to upload a photo its change names finds no bytes (`PhotoUnavailable::NotHere`, as
//!   the repository reads it), and the person, told so, chooses another photo or a link and
//!   saves (picking offline-first writing first, as the page's words ask, when writing
//!   online-only).

use std::collections::{HashMap, HashSet};

use outpost_core::faults::{self, Fault};
use outpost_core::patch::{ProfileForm, ProfilePatch};
use outpost_core::sync::{
    Action, CommitResult, ConflictPolicy, Entropy, Field, Input, LocalRecord, Millis, NotStored,
    OnlineAnswer, OnlineFailure, OnlineSave, OnlineStep, PhotoAnswer, PhotoUnavailable, RequestId,
    Resolution, SentWrite, Step, SyncConfig, SyncMachine, SyncProblem, SyncState, TabSync,
    outcome_unknown,
};
use outpost_core::validate::uploaded_photo;
use outpost_core::wire::{ProfileFields, ServerProfile};

/// What the status says when the photo a change names is no longer on the device.
const PHOTO_GONE: SyncProblem = SyncProblem::Photo(PhotoUnavailable::NotHere);

/// xorshift64*: tiny deterministic PRNG for the schedule and the machines' entropy.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

impl Entropy for Rng {
    fn next_u64(&mut self) -> u64 {
        self.next()
    }
}

pub type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(format!($($arg)*));
        }
    };
}

/// Who sent a request on a device: one of its tabs, or its service worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    Tab(usize),
    Worker,
}

#[derive(Clone, Debug)]
pub enum Req {
    Put {
        id: RequestId,
        write: SentWrite,
    },
    Get {
        id: RequestId,
    },
    /// `PUT /api/photos/{sha256}` with the bytes.
    Upload {
        id: RequestId,
        sha256: String,
    },
}

impl Req {
    fn id(&self) -> RequestId {
        match self {
            Req::Put { id, .. } | Req::Get { id } | Req::Upload { id, .. } => *id,
        }
    }
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // test code: clarity over size
pub enum Msg {
    ToServer {
        dev: usize,
        from: Writer,
        req: Req,
    },
    /// An answer (or a push) for a tab, or the service worker's answer.
    ToWriter {
        dev: usize,
        to: Writer,
        input: Input,
    },
    /// BroadcastChannel: this account signed out (or another signed in); the tab stops.
    SignedOut {
        dev: usize,
        tab: usize,
    },
    /// BroadcastChannel: the store changed, re-read it.
    Refresh {
        dev: usize,
        tab: usize,
    },
    /// BroadcastChannel: the settings changed, re-read them.
    Settings {
        dev: usize,
        tab: usize,
    },
    /// What the store held when a tab opened: the repository's `start` reads it outside the
    /// tab's queue, so other jobs (a BroadcastChannel message) may run before it is handed
    /// to the tab's core. Never lost; gone with a reload.
    Start {
        dev: usize,
        tab: usize,
        stored: Option<LocalRecord>,
    },
    /// An answer made up in the tab itself (never lost; gone with a reload).
    Local {
        dev: usize,
        tab: usize,
        input: Input,
    },
}

pub struct Server {
    pub profile: ServerProfile,
    /// Per field: (version, value) for every accepted change of that field.
    pub changes: HashMap<Field, Vec<(u64, String)>>,
    /// Every accepted version, index = version - 1.
    pub history: Vec<ServerProfile>,
    /// The device that wrote each version (`None` for the first), index = version - 1.
    pub authors: Vec<Option<usize>>,
    /// Every mutation id seen: the write it named and the version it produced, if applied.
    pub keys: HashMap<String, (SentWrite, Option<u64>)>,
    /// Whether the server keeps `Idempotency-Key`s (false: the old server, for the test that
    /// shows the invariants catch what it did).
    pub idempotent: bool,
    /// The lowest version whose key the server still knows: history below it was pruned.
    pub floor: u64,
    /// The photos uploaded (by SHA-256).
    pub photos: HashSet<String>,
}

pub struct Tab {
    /// The app's core for one tab: the sync machine and the rules of its commits.
    pub sync: TabSync,
    timer: Option<Millis>,
    /// The request sent under the lock whose answer this tab waits for.
    outstanding: Option<RequestId>,
    /// A request waiting for the device's lock.
    waiting: Option<Req>,
    pub open: bool,
    /// Opened, and the store's record not yet handed to its core: no view to edit in yet.
    starting: bool,
    /// The profile form, while the person is editing in it.
    form: Option<FormSession>,
    /// An online-only save under way (gone with a reload, like the page's promise).
    online: Option<OnlineRun>,
}

/// An online-only save in a tab: the core's `OnlineSave`, what the person typed, and the PUT
/// it waits for.
struct OnlineRun {
    save: OnlineSave,
    patch: ProfilePatch,
    typed: Vec<(Field, String)>,
    waiting: Option<(RequestId, SentWrite)>,
    /// The photo upload it waits for.
    uploading: Option<(RequestId, String)>,
    /// A 412 during this save named a version another device wrote: the profile changed
    /// elsewhere while the save tried.
    changed_elsewhere: bool,
}

/// The profile form of an open tab as the page holds it: the core's `ProfileForm`, told of
/// every record the tab shows (the page's effect), and what the person does in it. A person
/// clicks into a field, selects what it shows and types over it; if the field changed under
/// them after that, their typing lands after the new text, as in a real input.
struct FormSession {
    form: ProfileForm,
    /// The field the person is in, and what it showed when they selected it.
    focus: Option<(Field, String)>,
    /// [`World::counter`] when the person last saw what the field they are in shows (selected
    /// it, or saw it filled under them): the value they type over is the one shown then, though
    /// the same value may have been typed again elsewhere since.
    seen_at: u64,
    /// What the person typed, per field, in this session (to be saved as typed).
    typed: Vec<(Field, String)>,
}

impl FormSession {
    /// The person clicks into `field` (leaving the one they were in) and selects what it shows.
    fn select(&mut self, field: Field, now: u64) {
        if let Some((old, _)) = self.focus.take() {
            self.form.blur(old);
        }
        self.form.focus(field);
        let seen = field.get(&self.form.shown).to_owned();
        self.focus = Some((field, seen));
        self.seen_at = now;
    }
}

impl Tab {
    /// The profile form as the person finds it: none while it takes no input (the tab closed
    /// or starting, or an online-only save on its way: the Save button waits) or before it was
    /// filled from a record (read-only, as the page keeps it).
    fn open_form(&mut self) -> Option<&mut FormSession> {
        self.form_shown()
            .and_then(|session| session.form.is_filled().then_some(session))
    }

    /// The profile form on the page, filled or not: the person can click into a field of a
    /// form still read-only (the profile has not arrived), and be in it when it is filled.
    fn form_shown(&mut self) -> Option<&mut FormSession> {
        if !self.open || self.starting || self.online.is_some() {
            return None;
        }
        let shown = self.sync.machine().record().map(LocalRecord::view);
        let session = self.form.get_or_insert_with(|| FormSession {
            form: shown
                .as_ref()
                .map_or_else(ProfileForm::unfilled, ProfileForm::new),
            focus: None,
            seen_at: 0,
            typed: Vec::new(),
        });
        Some(session)
    }
}

/// What the service worker's request in flight does.
#[derive(Clone, Debug)]
enum WorkerJob {
    /// Uploads the photo the prepared write `mutation` names, before that write.
    Upload { sha256: String, mutation: String },
    /// Sends the write in doubt.
    Put(SentWrite),
}

pub struct Device {
    pub tabs: Vec<Tab>,
    /// The device store (IndexedDB), shared by the tabs and the service worker.
    pub store: Option<LocalRecord>,
    pub online: bool,
    /// The device's write strategy is online-only (its saves go to the server first).
    pub online_only: bool,
    /// The conflict policy the device's settings hold: the person's latest choice on it.
    pub policy: ConflictPolicy,
    /// Whether this account is the device's session (else signed out, or another account is
    /// signed in): no tab of it opens and the service worker sends nothing for it.
    pub signed_in: bool,
    lock: Option<Writer>,
    /// The service worker's request under the lock, and what it sent.
    worker: Option<(RequestId, WorkerJob)>,
    /// The photos whose bytes the device store holds (by SHA-256): the ones its person chose.
    pub photos: HashSet<String>,
    /// How many times the device store's record of the account was deleted (signing out, or
    /// in as another account): what the device knew of its writes went with it.
    pub forgettings: u64,
}

/// What the edit that made a value (typed, or typed in a conflict dialog) had seen of its
/// field: the value it replaced, and the other sides it was kept over in a conflict; whether
/// "This device wins" has been in force since. A write may replace a server value only with a value whose edit had
/// seen it, or was kept over it, or was made while "This device wins" was in force (and the
/// server value was not itself made by an edit that had seen it).
#[derive(Clone, Debug, Default)]
struct Provenance {
    /// The values seen, each with [`World::counter`] when it was last seen ([`World::may_replace`]
    /// orders them with a value typed back, [`World::incarnations`]).
    seen: HashMap<String, u64>,
    /// Per value seen, whose typing of it was seen: per device that typed it (two may type
    /// one value), the latest of its typings seen ([`World::incarnations`]).
    seen_typings: HashMap<String, HashMap<usize, u64>>,
    local_wins: bool,
}

impl Provenance {
    /// The edit saw `value`, as `typing` typed it (device and incarnation), at `at`.
    fn see(&mut self, value: String, typing: Option<(usize, u64)>, at: u64) {
        if let Some((typist, incarnation)) = typing {
            let seen = self
                .seen_typings
                .entry(value.clone())
                .or_default()
                .entry(typist)
                .or_insert(incarnation);
            *seen = (*seen).max(incarnation);
        }
        self.seen.insert(value, at);
    }

    /// The latest typing of `value` by `typist` the edit saw.
    fn saw_typed_by(&self, value: &str, typist: usize) -> Option<u64> {
        self.seen_typings
            .get(value)
            .and_then(|typings| typings.get(&typist))
            .copied()
    }
}

struct Acked {
    dev: usize,
    field: Field,
    value: String,
}

pub struct World {
    pub rng: Rng,
    pub now: Millis,
    pub server: Server,
    pub devices: Vec<Device>,
    net: Vec<Msg>,
    config: SyncConfig,
    acked: Vec<Acked>,
    /// Per device: every value it typed. Two devices may have typed one value: a person who
    /// undoes a change types back the value it replaced, which may be another device's.
    typed: Vec<HashSet<String>>,
    /// Per device, when each value typed there was last submitted as a new write (a local
    /// save, an online-only save's own write, a conflict choice that typed it), in order: the
    /// person's later act may replace their own value of an earlier one (also from another
    /// tab), never the other way round.
    submitted: HashMap<(usize, String), u64>,
    /// Counts the acts of [`World::submitted`].
    submissions: u64,
    /// Per write (mutation id) and field: the submission its value had when the write was
    /// made. A value submitted twice is carried by writes of both acts, and a write is
    /// ordered by the act it carries, not by a later one of the same value.
    write_acts: HashMap<(String, Field), u64>,
    /// Per field: the act of the write that put the server's value there.
    server_acts: HashMap<Field, u64>,
    /// Per write (mutation id): its device's [`Device::forgettings`] when it first left.
    write_memories: HashMap<String, u64>,
    /// Per device: every (field, value) it has held in a record, in any tab or its store: what
    /// its person can have seen. A write may replace only a value its device had seen.
    seen: Vec<HashSet<(Field, String)>>,
    /// A write replaced a value its device had never seen (checked at the end).
    unseen_overwrite: Option<String>,
    /// Per device, field and value typed or chosen there: what its edits had seen. Two devices
    /// may type one value (undoing another device's change); each typing is its own edit.
    provenance: HashMap<(usize, Field, String), Provenance>,
    /// An accepted write broke the causal rule (reported by the step that delivered it).
    causal_violation: Option<String>,
    /// Tabs put their record without the compare (the old shell; for the test that shows
    /// the invariants catch it).
    pub blind_commits: bool,
    /// Signing out deletes the record whatever it holds once the tab's own view is clean
    /// (the old sign-out; for the test that shows the invariants catch it).
    pub blind_sign_out: bool,
    /// People now and then type back a value of theirs that another device replaced, or undo
    /// a change they see by typing back the value it replaced (on unless
    /// `OUTPOST_TYPE_BACKS=0`; `make test-model-faults` always): the schedules where a field
    /// is changed and changed back (A, B, A), which only the server's field versions tell
    /// apart from a field left as it was, and where two devices type one value.
    pub type_backs: bool,
    /// Values replaced by their own device's later edit, or discarded by a conflict choice.
    excused: HashSet<(Field, String)>,
    /// Per device and field: its last acknowledged value.
    last_own: HashMap<(usize, Field), String>,
    /// Per device and field: the acknowledged value before its last one.
    earlier_own: HashMap<(usize, Field), String>,
    /// Per device and field: the values typed back there, with [`World::counter`] when they
    /// last were (each device's typing of a value is its own).
    incarnations: HashMap<(usize, Field, String), u64>,
    /// Per field: [`World::incarnations`] of the value the server holds (0: its first typing),
    /// from the device whose write put it there.
    server_incarnations: HashMap<Field, u64>,
    /// Per field and version that changed it: [`World::incarnations`] of the value it put
    /// there, from the device whose write it was.
    change_incarnations: HashMap<(Field, u64), u64>,
    counter: u64,
    /// Mutation ids of writes in doubt discarded by a warned sign-out ("Sign out anyway").
    disowned: HashSet<String>,
    /// Values a conflict choice being made would discard (excused once it applies).
    pending_excuses: Vec<(Field, String)>,
    next_worker_request: u64,
    /// A mutation id was sent again naming another write (checked at the end).
    key_reused: bool,
    pub chaos: bool,
    /// Draws the device stores' failed commits, apart from `rng` so the rest of a schedule
    /// stays the same.
    store_trouble: Rng,
    /// Draws the device stores' failed reads of a photo to upload, apart from `rng` likewise.
    read_trouble: Rng,
    /// Draws the browser clearing a device's photo store, apart from `rng` likewise.
    clears: Rng,
    /// A tab's commit failed since this was last cleared (a save then is refused, not kept).
    not_stored: bool,
    /// Draws the server's refusals, apart from `rng` so the rest of a schedule stays the same.
    refusals: Rng,
    /// Draws power cuts, apart from `rng` likewise.
    power: Rng,
    /// The device whose tab sent a write during the current step (a power cut may follow).
    put_left: Option<usize>,
    /// Draws whether a photo is chosen rather than a URL typed, apart from `rng` likewise.
    choices: Rng,
    /// Draws the person's changes of the write strategy in Settings, apart from `rng` likewise.
    switches: Rng,
    /// Draws the field a person clicks into while the form waits for the profile, apart from
    /// `rng` likewise.
    early_clicks: Rng,
    /// Draws whether the person types back an earlier name of theirs, apart from `rng` likewise.
    retypes: Rng,
    /// Mutation ids the server refused (every copy of such a write is refused).
    refused_keys: HashSet<String>,
    /// The next id of an online-only save's PUT (apart from the cores' own request ids).
    next_online_request: u64,
    pub log: Vec<String>,
}

/// The first version of the server's profile.
fn first_profile(fields: &ProfileFields) -> ServerProfile {
    ServerProfile::first(fields, "v1".into())
}

impl Tab {
    fn new(config: &SyncConfig) -> Self {
        Tab {
            sync: TabSync::new(SyncMachine::new(config.clone())),
            timer: None,
            outstanding: None,
            waiting: None,
            open: true,
            starting: false,
            form: None,
            online: None,
        }
    }
}

impl World {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let n = 2 + rng.below(2) as usize;
        let policy = match rng.below(10) {
            0..=5 => ConflictPolicy::Ask,
            6 | 7 => ConflictPolicy::LocalWins,
            _ => ConflictPolicy::RemoteWins,
        };
        let config = SyncConfig {
            policy,
            ..SyncConfig::default()
        };
        let initial = ProfileFields {
            name: "initial".into(),
            photo_url: String::new(),
        };
        // Drawn apart from `rng`, so the rest of a schedule stays what it was without them.
        let mut strategies = Rng::new(seed ^ 0x0011_0e0f_f11e);
        let devices = (0..n)
            .map(|_| {
                let tabs = 1 + rng.below(2) as usize;
                Device {
                    tabs: (0..tabs).map(|_| Tab::new(&config)).collect(),
                    store: None,
                    online: true,
                    online_only: strategies.chance(25),
                    policy,
                    signed_in: true,
                    lock: None,
                    worker: None,
                    photos: HashSet::new(),
                    forgettings: 0,
                }
            })
            .collect();
        World {
            rng,
            now: 1_000_000,
            server: Server {
                profile: first_profile(&initial),
                changes: HashMap::new(),
                history: vec![first_profile(&initial)],
                authors: vec![None],
                keys: HashMap::new(),
                idempotent: true,
                floor: 1,
                photos: HashSet::new(),
            },
            typed: vec![HashSet::new(); n],
            submitted: HashMap::new(),
            submissions: 0,
            write_acts: HashMap::new(),
            server_acts: HashMap::new(),
            write_memories: HashMap::new(),
            seen: vec![HashSet::new(); n],
            unseen_overwrite: None,
            provenance: HashMap::new(),
            causal_violation: None,
            blind_commits: false,
            blind_sign_out: false,
            type_backs: std::env::var("OUTPOST_TYPE_BACKS").map_or(true, |v| v != "0"),
            disowned: HashSet::new(),
            devices,
            net: Vec::new(),
            config,
            acked: Vec::new(),
            excused: HashSet::new(),
            last_own: HashMap::new(),
            earlier_own: HashMap::new(),
            incarnations: HashMap::new(),
            server_incarnations: HashMap::new(),
            change_incarnations: HashMap::new(),
            counter: 0,
            pending_excuses: Vec::new(),
            next_worker_request: 1 << 60,
            key_reused: false,
            chaos: true,
            store_trouble: Rng::new(seed ^ 0x005e_ed0f_d15c),
            read_trouble: Rng::new(seed ^ 0x00ea_d0f0_70b5),
            clears: Rng::new(seed ^ 0x0c1e_a250_f070),
            not_stored: false,
            refusals: Rng::new(seed ^ 0x4c22_0000_0422),
            power: Rng::new(seed ^ 0x0000_0ff0_0ff0),
            put_left: None,
            choices: Rng::new(seed ^ 0x0000_f070_c0de),
            switches: Rng::new(seed ^ 0x0057_1c4e_5000),
            early_clicks: Rng::new(seed ^ 0x00ea_271c_1c50),
            retypes: Rng::new(seed ^ 0x0000_bac4_7e9e),
            refused_keys: HashSet::new(),
            next_online_request: 1 << 61,
            log: Vec::new(),
        }
    }

    /// One whole schedule: start, 120-599 random steps, quiescence, the final checks. Long
    /// enough for the rarest chains seen (a write applied, its answer lost, the history pruned
    /// past it while others wrote, then resent): a third of the length found them about six
    /// times less often.
    pub fn play(&mut self) -> Check {
        self.start()?;
        let steps = 120 + self.rng.below(480);
        for _ in 0..steps {
            self.step()?;
        }
        self.quiesce()?;
        self.check()
    }

    pub fn start(&mut self) -> Check {
        for dev in 0..self.devices.len() {
            for tab in 0..self.devices[dev].tabs.len() {
                self.tab_stored(dev, tab, None)?;
            }
        }
        Ok(())
    }

    /// Hands an input to a tab's core and performs what it asks.
    fn tab_step(&mut self, dev: usize, tab: usize, input: Input) -> Check {
        if !self.devices[dev].tabs[tab].open {
            return Ok(());
        }
        self.log
            .push(format!("t={} dev{dev}.{tab} <- {input:?}", self.now));
        let before = self.records_before(dev, tab, None);
        let step = self.devices[dev].tabs[tab]
            .sync
            .handle(self.now, input, &mut self.rng);
        self.tab_settle(dev, tab, step)?;
        self.note_policy_losses(dev, tab, before);
        Ok(())
    }

    /// Hands what the device store held when read to a tab's core (its start, a
    /// BroadcastChannel message, `visibilitychange`) and performs what it asks.
    fn tab_stored(&mut self, dev: usize, tab: usize, stored: Option<LocalRecord>) -> Check {
        if !self.devices[dev].tabs[tab].open {
            return Ok(());
        }
        self.log.push(format!(
            "t={} dev{dev}.{tab} <- stored rev {:?}",
            self.now,
            stored.as_ref().map(|r| r.revision)
        ));
        // A tab that adopts a stored conflict may settle it in the same step.
        let before = self.records_before(dev, tab, stored.clone());
        let step = self.devices[dev].tabs[tab]
            .sync
            .stored(self.now, stored, &mut self.rng);
        self.tab_settle(dev, tab, step)?;
        self.note_policy_losses(dev, tab, before);
        Ok(())
    }

    fn shown_record(&self, dev: usize, tab: usize) -> Option<LocalRecord> {
        self.devices[dev].tabs[tab].sync.machine().record().cloned()
    }

    /// The records a tab's step may start from: its own, what the device store holds (a
    /// re-applied input lands on it), and a stored record it is handed.
    fn records_before(
        &self,
        dev: usize,
        tab: usize,
        handed: Option<LocalRecord>,
    ) -> Vec<LocalRecord> {
        [
            self.shown_record(dev, tab),
            self.devices[dev].store.clone(),
            handed,
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// "The other device wins", in force when a tab's step replaced the person's value of a
    /// field by the server's, is the person's choice: that value is discarded by it (the only
    /// loss the final check excuses for the policy, and only this one).
    fn note_policy_losses(&mut self, dev: usize, tab: usize, before: Vec<LocalRecord>) {
        // The person's choice in force is what the device's settings hold now: a tab that
        // settled by "The other device wins" after the person left it is not excused.
        if self.devices[dev].policy != ConflictPolicy::RemoteWins {
            return;
        }
        let Some(after) = self.shown_record(dev, tab) else {
            return;
        };
        let Some(base) = after.base.as_ref() else {
            return;
        };
        let (server, version) = (base.fields(), base.version);
        for before in before {
            for field in Field::ALL {
                let (was, now) = (field.get(&before.local), field.get(&after.local));
                // Only another device's value wins by the policy: a value this device wrote
                // itself is never "the other device's" (but the same value put there again by
                // another device, typed back there, is).
                if was != now
                    && now == field.get(&server)
                    && self.typed[dev].contains(was)
                    && (!self.typed[dev].contains(now)
                        || self.put_by_another(dev, field, now, version))
                {
                    self.excused.insert((field, was.to_owned()));
                }
            }
        }
    }

    /// Performs a tab's step as the repository's driver does: each commit with the device
    /// store's compare (skipped by the old shell's blind put), then the actions.
    fn tab_settle(&mut self, dev: usize, tab: usize, mut step: Step) -> Check {
        loop {
            match step {
                Step::Commit(commit) => {
                    let device = &mut self.devices[dev];
                    // IndexedDB can fail a transaction (a full disk, a closed connection).
                    let result = if self.chaos && self.store_trouble.chance(3) {
                        self.log.push(format!("    dev{dev}.{tab}: commit failed"));
                        self.not_stored = true;
                        CommitResult::Failed
                    } else {
                        // The same transaction reads the settings (the repository's driver).
                        match commit.decide(device.store.as_ref(), device.policy) {
                            // The old shell's blind put: no compare.
                            CommitResult::Outdated(_) if self.blind_commits => {
                                CommitResult::Written
                            }
                            decided => decided,
                        }
                    };
                    match &result {
                        CommitResult::Written => device.store = Some(commit.record),
                        CommitResult::PolicyChanged(held) => self.log.push(format!(
                            "    dev{dev}.{tab}: decided under {:?}, settings hold {held:?}",
                            commit.policy
                        )),
                        CommitResult::Outdated(_) => self
                            .log
                            .push(format!("    dev{dev}.{tab}: outdated, re-applying")),
                        CommitResult::Failed => {}
                    }
                    let written = result == CommitResult::Written;
                    // Every commit is decided under the policy the person chose last on the
                    // device: a tab that has not heard of a change yet must not settle (or
                    // decide anything else) by the old one.
                    let decided = self.devices[dev].tabs[tab].sync.machine().policy();
                    ensure!(
                        !written || decided == self.devices[dev].policy,
                        "dev{dev}.{tab}: committed a record decided under {decided:?}, after the \
                         person chose {:?}",
                        self.devices[dev].policy
                    );
                    step = self.devices[dev].tabs[tab].sync.commit_result(
                        self.now,
                        result,
                        &mut self.rng,
                    );
                    if written {
                        self.broadcast(dev, Some(tab));
                    }
                }
                Step::Removed => {
                    // Signed out in another tab: the account's data must not return.
                    self.log
                        .push(format!("    dev{dev}.{tab}: record gone, stops"));
                    return self.close_tab(dev, tab);
                }
                Step::NotStored {
                    reason: NotStored::KeptChanging,
                    ..
                } => {
                    return Err(format!("dev{dev}.{tab}: re-applied an input eight times"));
                }
                Step::Done(actions)
                | Step::NotStored {
                    reason: NotStored::StoreFailed,
                    actions,
                } => {
                    for action in &actions {
                        if !matches!(action, Action::Status(_)) {
                            self.log.push(format!("    -> {action:?}"));
                        }
                        self.perform(dev, tab, action)?;
                    }
                    self.follow_form(dev, tab)?;
                    self.note_seen(dev, tab);
                    self.check_causal(dev, tab)?;
                    if actions.iter().any(|a| matches!(a, Action::SendPut { .. })) {
                        self.put_left = Some(dev);
                    }
                    return Ok(());
                }
            }
        }
    }

    /// The revision the service worker stores over `read`, as `sw.js` does (or, with the
    /// fault switched on, the one it read, like the tabs' core).
    fn revision_after(&mut self, read: Option<&LocalRecord>) -> u64 {
        match read {
            Some(read) if faults::on(Fault::KeepRevision) => read.revision,
            read => LocalRecord::next_revision(read, &mut self.rng),
        }
    }

    fn broadcast(&mut self, dev: usize, except: Option<usize>) {
        for other in 0..self.devices[dev].tabs.len() {
            if Some(other) != except && self.devices[dev].tabs[other].open {
                self.net.push(Msg::Refresh { dev, tab: other });
            }
        }
    }

    fn perform(&mut self, dev: usize, tab: usize, action: &Action) -> Check {
        let t = &mut self.devices[dev].tabs[tab];
        match action {
            Action::Persist(_) => {}
            Action::SendPut { request, write } => {
                ensure!(
                    t.outstanding.is_none() && t.waiting.is_none(),
                    "dev{dev}.{tab}: second request in flight"
                );
                // Committed as the write in doubt by this tab (or read so from the store)
                // before it leaves. (The record may be synchronized meanwhile: a write in
                // doubt taken over from another tab is still settled by sending it.)
                let stored = t
                    .sync
                    .last_persisted()
                    .ok_or("PUT without a stored record")?;
                ensure!(
                    stored.sent.as_ref() == Some(write),
                    "dev{dev}.{tab}: PUT not committed as the write in doubt before it left"
                );
                t.waiting = Some(Req::Put {
                    id: *request,
                    write: write.clone(),
                });
                self.note_write(dev, write);
                self.grant_lock(dev)?;
            }
            Action::SendGet { request } => {
                ensure!(
                    t.outstanding.is_none() && t.waiting.is_none(),
                    "dev{dev}.{tab}: second request in flight"
                );
                t.waiting = Some(Req::Get { id: *request });
                self.grant_lock(dev)?;
            }
            Action::SendPhoto { request, sha256 } => {
                ensure!(
                    t.outstanding.is_none() && t.waiting.is_none(),
                    "dev{dev}.{tab}: second request in flight"
                );
                // Only the photo the next write names is uploaded: one the person replaced
                // before its upload never leaves the device.
                let record = t.sync.machine().record().ok_or("upload without a record")?;
                let named = [Some(&record.local), record.sent.as_ref().map(|w| &w.fields)]
                    .into_iter()
                    .flatten()
                    .any(|f| uploaded_photo(&f.photo_url) == Some(sha256.as_str()));
                ensure!(
                    named,
                    "dev{dev}.{tab}: uploads photo {sha256} that no write of its record names"
                );
                t.waiting = Some(Req::Upload {
                    id: *request,
                    sha256: sha256.clone(),
                });
                self.grant_lock(dev)?;
            }
            Action::ScheduleRetry { after } => {
                ensure!(
                    *after <= self.config.backoff_cap.max(60_000),
                    "retry delay {after} over the cap"
                );
                t.timer = Some(self.now + after);
            }
            Action::Status(status) => {
                ensure!(
                    *status == t.sync.machine().status(),
                    "emitted status differs from status()"
                );
            }
        }
        Ok(())
    }

    /// Gives a free lock to the first tab waiting for it and sends that tab's request.
    fn grant_lock(&mut self, dev: usize) -> Check {
        let device = &mut self.devices[dev];
        if device.lock.is_some() {
            return Ok(());
        }
        let Some(tab) = (0..device.tabs.len()).find(|t| device.tabs[*t].waiting.is_some()) else {
            return Ok(());
        };
        let Some(req) = device.tabs[tab].waiting.take() else {
            return Ok(());
        };
        device.lock = Some(Writer::Tab(tab));
        // Another writer may have sent this very mutation meanwhile: its stored outcome
        // answers it (the repository's `exchange`, through the same rule).
        if let Req::Put { id, write } = &req
            && let Some(profile) = device
                .store
                .as_ref()
                .and_then(|r| r.answer_to(&write.mutation).cloned())
        {
            let id = *id;
            self.log
                .push(format!("    dev{dev}.{tab}: answered from the store"));
            self.devices[dev].tabs[tab].outstanding = Some(id);
            self.net.push(Msg::Local {
                dev,
                tab,
                input: Input::PutAccepted {
                    request: id,
                    profile,
                },
            });
            return Ok(());
        }
        // The bytes come from the device store: a device without them, or whose store fails
        // to read them, says so and sends nothing (the repository's `upload`).
        if let Req::Upload { id, sha256 } = &req
            && let Some(why) = self.photo_unavailable(dev, sha256)
        {
            let request = *id;
            self.devices[dev].tabs[tab].outstanding = Some(request);
            self.net.push(Msg::Local {
                dev,
                tab,
                input: Input::PhotoUnavailable { request, why },
            });
            return Ok(());
        }
        self.check_not_answered(dev, &req)?;
        self.devices[dev].tabs[tab].outstanding = Some(req.id());
        self.net.push(Msg::ToServer {
            dev,
            from: Writer::Tab(tab),
            req,
        });
        Ok(())
    }

    /// Why device `dev` cannot read the bytes of photo `sha256` to upload them, if it cannot:
    /// they are not in its store, or (under chaos, now and then) its store fails to read.
    fn photo_unavailable(&mut self, dev: usize, sha256: &str) -> Option<PhotoUnavailable> {
        if !self.devices[dev].photos.contains(sha256) {
            Some(PhotoUnavailable::NotHere)
        } else if self.chaos && self.read_trouble.chance(5) {
            Some(PhotoUnavailable::Unreadable)
        } else {
            None
        }
    }

    /// One PUT per change: a write leaves again only while its outcome is unknown on the
    /// device. Once the server's word on it is stored (applied as the record's base, or kept
    /// beside the write by the service worker), sending it again is a wasted round trip
    /// another writer's lock wait would have avoided (issue 24: the tab resent what the
    /// service worker had just sent and answered). Written out here rather than through
    /// `LocalRecord::answer_to`, the rule under test, so a defect of that rule shows.
    fn check_not_answered(&self, dev: usize, req: &Req) -> Check {
        let Req::Put { write, .. } = req else {
            return Ok(());
        };
        let Some(stored) = self.devices[dev].store.as_ref() else {
            return Ok(());
        };
        let names = |p: &Option<ServerProfile>| {
            p.as_ref()
                .is_some_and(|p| p.mutation_id.as_deref() == Some(write.mutation.as_str()))
        };
        ensure!(
            !names(&stored.base) && !names(&stored.answer),
            "dev{dev}: write {} sent again though the device store holds the server's answer to it",
            write.mutation
        );
        Ok(())
    }

    fn release_lock(&mut self, dev: usize, holder: Writer) -> Check {
        if self.devices[dev].lock == Some(holder) {
            self.devices[dev].lock = None;
            self.grant_lock(dev)?;
        }
        Ok(())
    }

    /// An answer for a tab: handled inside the lock, which is released after it is stored.
    fn answer_tab(&mut self, dev: usize, tab: usize, input: Input) -> Check {
        let request = match &input {
            Input::PutAccepted { request, .. }
            | Input::PutStale { request, .. }
            | Input::PutForgotten { request, .. }
            | Input::GetAnswered { request, .. }
            | Input::RequestFailed { request, .. }
            | Input::RequestRejected { request, .. }
            | Input::PhotoStored { request }
            | Input::PhotoMissing { request }
            | Input::PhotoUnavailable { request, .. }
            | Input::Unauthorized { request } => Some(*request),
            _ => None,
        };
        let run = self.devices[dev].tabs[tab].online.as_ref();
        let online = run.and_then(|r| r.waiting.as_ref()).map(|(id, _)| *id);
        let uploading = run.and_then(|r| r.uploading.as_ref()).map(|(id, _)| *id);
        if request.is_some() && request == online {
            return self.online_answered(dev, tab, input);
        }
        if request.is_some() && request == uploading {
            return self.online_photo_answered(dev, tab, input);
        }
        let mine = request.is_some() && self.devices[dev].tabs[tab].outstanding == request;
        if mine {
            self.devices[dev].tabs[tab].outstanding = None;
        }
        self.tab_step(dev, tab, input)?;
        if mine {
            self.release_lock(dev, Writer::Tab(tab))?;
        }
        Ok(())
    }

    /// Remembers every value the tab's record and the device store hold (shown values, the
    /// server state they are based on, a conflict's other side).
    fn note_seen(&mut self, dev: usize, tab: usize) {
        let records = [
            self.devices[dev].tabs[tab].sync.machine().record().cloned(),
            self.devices[dev].store.clone(),
        ];
        for record in records.into_iter().flatten() {
            let mut states = vec![record.local.clone()];
            states.extend(record.base.as_ref().map(ServerProfile::fields));
            states.extend(record.conflict.as_ref().map(|c| c.remote.fields()));
            for fields in states {
                for field in Field::ALL {
                    self.seen[dev].insert((field, field.get(&fields).to_owned()));
                }
            }
        }
    }

    /// The invariants that must hold after every step (see the module documentation).
    fn check_causal(&self, dev: usize, tab: usize) -> Check {
        let Some(record) = self.devices[dev].tabs[tab].sync.machine().record() else {
            return Ok(());
        };
        if let Some(conflict) = &record.conflict {
            for c in &conflict.fields {
                ensure!(
                    self.typed[dev].contains(&c.mine),
                    "dev{dev}.{tab}: conflict shows {:?} = {:?} as this device's, which it never typed",
                    c.field,
                    c.mine
                );
                // Who put the other side's value of this field on the server (a version may
                // carry other devices' values in the fields it did not change).
                let introduced = self.introduced_at(c.field, &c.theirs, conflict.remote.version);
                let author = introduced.and_then(|v| self.author_of(v));
                let disowned = introduced
                    .and_then(|v| self.mutation_of(v))
                    .is_some_and(|m| self.no_longer_own(dev, m));
                ensure!(
                    author != Some(dev) || disowned,
                    "dev{dev}.{tab}: false conflict: its own write v{} ({:?} = {:?}) shown as \
                     the other side's",
                    introduced.unwrap_or_default(),
                    c.field,
                    c.theirs
                );
            }
        }
        let records = [Some(record), self.devices[dev].store.as_ref()];
        for base in records
            .into_iter()
            .flatten()
            .filter_map(|r| r.base.as_ref())
        {
            let index = usize::try_from(base.version.saturating_sub(1)).unwrap_or(usize::MAX);
            ensure!(
                self.server.history.get(index) == Some(base),
                "dev{dev}: base v{} is not the server's history at that version",
                base.version
            );
        }
        Ok(())
    }

    /// The person works in a tab's profile form: one to three of [`World::form_action`].
    fn edit(&mut self, dev: usize, tab: usize) -> Check {
        // Now and then the person first picks the other write strategy in Settings (every tab
        // of the device follows at once), whatever is under way: online-only with
        // offline-first changes still on their way, offline-first with an online write in
        // doubt, an online save on its way or typing left after one.
        if self.switches.chance(20) {
            let online_only = !self.devices[dev].online_only;
            self.devices[dev].online_only = online_only;
            self.log.push(format!(
                "dev{dev}: the write strategy is now {}",
                if online_only {
                    "online-only"
                } else {
                    "offline-first"
                }
            ));
        }
        // Often a few in a row (a person typing and saving), sometimes with others between.
        for _ in 0..3 {
            self.form_action(dev, tab)?;
            if self.devices[dev].tabs[tab].form.is_none() || self.rng.chance(30) {
                break;
            }
        }
        Ok(())
    }

    /// One thing the person does in a tab's profile form: click into a field, type in it (or
    /// move on to the other field), or press Save. Between these, answers, pushes and other
    /// tabs' commits reach the tab and its form follows them as the page does.
    fn form_action(&mut self, dev: usize, tab: usize) -> Check {
        let Some(session) = self.devices[dev].tabs[tab].form_shown() else {
            return Ok(());
        };
        if !session.form.is_filled() {
            // Read-only until the profile arrives: the person can only click into a field,
            // and be in it when the form is filled under them.
            if session.focus.is_none() {
                let field = if self.early_clicks.chance(50) {
                    Field::Name
                } else {
                    Field::PhotoUrl
                };
                session.select(field, self.counter);
            }
            return Ok(());
        }
        let typed_in_focus = session
            .focus
            .as_ref()
            .is_some_and(|(f, _)| session.typed.iter().any(|(t, _)| t == f));
        match (&session.focus, typed_in_focus) {
            // Clicks into a field (the other one, after typing in one).
            (None, _) | (Some(_), true) if self.rng.chance(60) || session.typed.is_empty() => {
                let field = if self.rng.chance(50) {
                    Field::Name
                } else {
                    Field::PhotoUrl
                };
                session.select(field, self.counter);
                Ok(())
            }
            // Types over what the field showed when selected.
            (Some(_), false) => self.type_in_focus(dev, tab),
            // Presses Save (leaving the field).
            _ => self.save_form(dev, tab),
        }
    }

    /// The person types in the field they are in, over what it showed when they selected it:
    /// a name, a photo link, or a photo chosen (its bytes stored on the device, its path in the
    /// field: choosing replaces what the field shows).
    fn type_in_focus(&mut self, dev: usize, tab: usize) -> Check {
        let Some(session) = self.devices[dev].tabs[tab].form.as_mut() else {
            return Ok(());
        };
        let Some((field, seen)) = session.focus.clone() else {
            return Ok(());
        };
        self.counter += 1;
        let chosen = field == Field::PhotoUrl && self.choices.chance(50);
        // Now and then the person types back a name or a photo link of theirs this device
        // acknowledged: their last one where it shows another, or else the one before it
        // ([`World::type_backs`]).
        let own_back = [&self.last_own, &self.earlier_own]
            .into_iter()
            .filter_map(|own| own.get(&(dev, field)))
            .find(|v| !chosen && **v != seen && !v.starts_with("/api/photos/"))
            .cloned()
            .filter(|_| self.type_backs && self.retypes.chance(50));
        // Or they undo the change they see (theirs or another device's): type back the value
        // it replaced on the server, which another device may have typed (each device's typing
        // of a value is its own edit).
        let undo = self.server.changes.get(&field).and_then(|changes| {
            let at = changes.iter().rposition(|(_, v)| *v == seen)?;
            let before = &changes[at.checked_sub(1)?].1;
            (!before.is_empty() && !before.starts_with("/api/photos/")).then(|| before.clone())
        });
        let back = own_back
            .or_else(|| undo.filter(|_| !chosen && self.type_backs && self.retypes.chance(50)));
        let value = match field {
            _ if back.is_some() => back.clone().unwrap_or_default(),
            Field::Name => format!("n{}", self.counter),
            Field::PhotoUrl if chosen => format!("/api/photos/{:064x}", self.counter),
            Field::PhotoUrl => format!("https://p/{}", self.counter),
        };
        if back.is_some() {
            self.log
                .push(format!("dev{dev}.{tab} types back {value:?} over {seen:?}"));
            self.incarnations
                .insert((dev, field, value.clone()), self.counter);
        }
        let now = field.get(&session.form.shown).to_owned();
        let text = if now == seen || chosen || back.is_some() {
            value.clone()
        } else {
            format!("{now}{value}")
        };
        session.form.input(field, text);
        session.typed.retain(|(f, _)| *f != field);
        session.typed.push((field, value.clone()));
        let seen_at = session.seen_at;
        if chosen {
            self.devices[dev]
                .photos
                .insert(format!("{:064x}", self.counter));
        }
        self.note_edit_at(dev, field, &value, [seen], seen_at);
        // Typed before it is handled: the checks during the step know it as this device's.
        self.typed[dev].insert(value);
        Ok(())
    }

    /// Told that the photo their change names is no longer on this device, the person chooses
    /// another or links one in "Photo URL", and saves (the page's words ask for that).
    fn replace_gone_photo(&mut self, dev: usize, tab: usize) -> Check {
        let Some(session) = self.devices[dev].tabs[tab].open_form() else {
            return Ok(());
        };
        session.select(Field::PhotoUrl, self.counter);
        self.log.push(format!(
            "dev{dev}.{tab}: the photo is gone from the device; another one"
        ));
        // Online-only, the save would wait for the change naming the gone photo, which cannot
        // go: the page's words then ask for offline-first writing, and the person picks it.
        if self.devices[dev].online_only {
            self.devices[dev].online_only = false;
            self.log
                .push(format!("dev{dev}: the write strategy is now offline-first"));
        }
        self.type_in_focus(dev, tab)?;
        self.save_form(dev, tab)
    }

    /// The browser clears the device's photo store (its person cleared site data, say); the
    /// records stay.
    fn clear_photos(&mut self, dev: usize) {
        self.log
            .push(format!("dev{dev}: the browser clears the photos stored"));
        self.devices[dev].photos.clear();
    }

    /// The person presses Save: the form's patch goes in as the page sends it, and what they
    /// typed must be what is stored.
    fn save_form(&mut self, dev: usize, tab: usize) -> Check {
        let Some(session) = self.devices[dev].tabs[tab].form.as_mut() else {
            return Ok(());
        };
        if let Some((field, _)) = session.focus.take() {
            session.form.blur(field);
        }
        let patch = session.form.patch();
        // Typing the form no longer holds as a change, having reached a record of this device
        // (an online save whose answer was lost had been applied, and the person was then shown
        // the stored values): the field follows the record since, and its value is not this
        // save's to keep.
        let typed: Vec<_> = session
            .typed
            .iter()
            .filter(|(f, v)| patch.get(*f).is_some() || !self.seen[dev].contains(&(*f, v.clone())))
            .cloned()
            .collect();

        // The save lands on what the device holds (re-applied there if this tab's view is
        // older): a value typed there by the same person, in another tab, is one they saw.
        let held = [
            self.devices[dev].store.as_ref().map(|r| r.local.clone()),
            self.devices[dev].tabs[tab]
                .sync
                .machine()
                .record()
                .map(|r| r.local.clone()),
        ];
        self.form_keeps_typing(dev, tab)?;
        if patch.is_empty() {
            self.devices[dev].tabs[tab].form = None;
            return Ok(());
        }
        for (field, value) in &typed {
            for local in held.iter().flatten() {
                let current = field.get(local).to_owned();
                if self.typed[dev].contains(&current) {
                    self.note_edit(dev, *field, value, [current]);
                }
            }
        }
        if self.devices[dev].online_only {
            self.log
                .push(format!("dev{dev}.{tab} saves online-only: {patch:?}"));
            self.devices[dev].tabs[tab].online = Some(OnlineRun {
                save: OnlineSave::new(patch.clone()),
                patch,
                typed,
                waiting: None,
                uploading: None,
                changed_elsewhere: false,
            });
            return self.drive_online(dev, tab);
        }
        // Submitted as the save is handed over: its write may leave in the same step, and
        // carries this act ([`World::note_write`]).
        let before = (
            self.submissions,
            typed
                .iter()
                .map(|(_, v)| (v.clone(), self.submitted.get(&(dev, v.clone())).copied()))
                .collect::<Vec<_>>(),
        );
        self.submit(dev, typed.iter().map(|(_, v)| v.clone()));
        self.not_stored = false;
        self.tab_step(dev, tab, Input::LocalEdit(patch.clone()))?;
        if !self.devices[dev].tabs[tab].open || self.not_stored {
            // Signed out in another tab, or the device store failed: the save was refused
            // and said so; the typing stays in the person's form, not in any record, and
            // was not submitted after all.
            let (submissions, acts) = before;
            self.submissions = submissions;
            for (value, act) in acts {
                match act {
                    Some(act) => self.submitted.insert((dev, value), act),
                    None => self.submitted.remove(&(dev, value)),
                };
            }
            return Ok(());
        }
        let kept = self.kept_typing(dev, tab, typed)?;
        if let Some(session) = self.devices[dev].tabs[tab].form.as_mut() {
            session.form.saved(&patch);
        }
        self.devices[dev].tabs[tab].form = None;
        for (field, value) in kept {
            self.ack(dev, field, value);
        }
        Ok(())
    }

    /// Performs a tab's online-only save up to its next PUT or its end, as `writes.rs` does.
    fn drive_online(&mut self, dev: usize, tab: usize) -> Check {
        loop {
            let t = &mut self.devices[dev].tabs[tab];
            let Some(run) = t.online.as_mut() else {
                return Ok(());
            };
            let step = run.save.next(t.sync.machine().record(), &mut self.rng);
            self.log.push(format!(
                "t={} dev{dev}.{tab} online save: {step:?}",
                self.now
            ));
            match step {
                OnlineStep::Store(input) => {
                    // A new write of what the person typed, once stored to be sent (pressing
                    // Save again only resends the write in doubt, the same act as before).
                    let new_write = match &input {
                        Input::OnlineWriteSent(write) => Some((
                            write.mutation.clone(),
                            run.typed
                                .iter()
                                .filter(|(f, v)| f.get(&write.fields) == v)
                                .map(|(_, v)| v.clone())
                                .collect::<Vec<_>>(),
                        )),
                        _ => None,
                    };
                    self.tab_step(dev, tab, input)?;
                    if let Some((mutation, typed)) = new_write {
                        let stored = self.devices[dev].store.as_ref().is_some_and(|r| {
                            r.online_sent
                                .as_ref()
                                .is_some_and(|s| s.mutation == mutation)
                        });
                        if stored {
                            self.submit(dev, typed);
                        }
                        if let Some(sent) = self.devices[dev]
                            .store
                            .as_ref()
                            .and_then(|r| r.online_sent.clone())
                        {
                            self.note_write(dev, &sent);
                        }
                    }
                    if !self.devices[dev].tabs[tab].open {
                        return Ok(());
                    }
                }
                OnlineStep::Send(write) => {
                    let id = RequestId(self.next_online_request);
                    self.next_online_request += 1;
                    run.waiting = Some((id, write.clone()));
                    self.net.push(Msg::ToServer {
                        dev,
                        from: Writer::Tab(tab),
                        req: Req::Put { id, write },
                    });
                    return Ok(());
                }
                OnlineStep::Upload(sha256) => {
                    let id = RequestId(self.next_online_request);
                    self.next_online_request += 1;
                    match self.photo_unavailable(dev, &sha256) {
                        None => {}
                        // The repository ends the save in words, nothing sent; the typing stays.
                        Some(PhotoUnavailable::Unreadable) => {
                            self.log.push(format!(
                                "    dev{dev}.{tab}: online save's photo unreadable"
                            ));
                            self.devices[dev].tabs[tab].online = None;
                            return Ok(());
                        }
                        Some(PhotoUnavailable::NotHere) => {
                            let answer = PhotoAnswer::NotHere;
                            let run = self.devices[dev].tabs[tab].online.as_mut();
                            if let Some(input) =
                                run.and_then(|r| r.save.photo_answered(sha256, answer))
                            {
                                self.tab_step(dev, tab, input)?;
                            }
                            continue;
                        }
                    }
                    if let Some(run) = self.devices[dev].tabs[tab].online.as_mut() {
                        run.uploading = Some((id, sha256.clone()));
                    }
                    self.net.push(Msg::ToServer {
                        dev,
                        from: Writer::Tab(tab),
                        req: Req::Upload { id, sha256 },
                    });
                    return Ok(());
                }
                OnlineStep::Saved => return self.online_saved(dev, tab),
                OnlineStep::Failed(failure) => return self.online_failed(dev, tab, &failure),
            }
        }
    }

    /// The server's answer (or its absence) to an online-only save's PUT.
    fn online_answered(&mut self, dev: usize, tab: usize, input: Input) -> Check {
        let Some(run) = self.devices[dev].tabs[tab].online.as_mut() else {
            return Ok(());
        };
        let Some((_, write)) = run.waiting.take() else {
            return Ok(());
        };
        let answer = match input {
            Input::PutAccepted { profile, .. } => OnlineAnswer::Applied(profile),
            Input::PutStale { current, .. } => {
                let index =
                    usize::try_from(current.version.saturating_sub(1)).unwrap_or(usize::MAX);
                if self.server.authors.get(index).copied().flatten() != Some(dev) {
                    run.changed_elsewhere = true;
                }
                OnlineAnswer::Stale(current)
            }
            Input::PutForgotten { current, .. } => OnlineAnswer::Forgotten(current),
            Input::RequestRejected { reason, .. } => OnlineAnswer::Refused(reason),
            // No word from the server on it: the save ends, its write in doubt on the device;
            // the typing stays in the form for the person to save again.
            _ => {
                self.log
                    .push(format!("    dev{dev}.{tab}: online save got no answer"));
                self.devices[dev].tabs[tab].online = None;
                return Ok(());
            }
        };
        let input = run.save.answered(write, answer);
        self.tab_step(dev, tab, input)?;
        self.drive_online(dev, tab)
    }

    /// The server's answer (or its absence) to an online-only save's photo upload.
    fn online_photo_answered(&mut self, dev: usize, tab: usize, input: Input) -> Check {
        let Some(run) = self.devices[dev].tabs[tab].online.as_mut() else {
            return Ok(());
        };
        let Some((_, sha256)) = run.uploading.take() else {
            return Ok(());
        };
        let answer = match input {
            Input::PhotoStored { .. } => PhotoAnswer::Stored,
            Input::RequestRejected { reason, .. } => PhotoAnswer::Refused(reason),
            // No word from the server: the save ends, nothing sent; the typing stays.
            _ => {
                self.log.push(format!(
                    "    dev{dev}.{tab}: online save's upload got no answer"
                ));
                self.devices[dev].tabs[tab].online = None;
                return Ok(());
            }
        };
        if let Some(input) = run.save.photo_answered(sha256, answer) {
            self.tab_step(dev, tab, input)?;
        }
        self.drive_online(dev, tab)
    }

    /// "Saved" after an online-only save: what the person typed is what the server accepted
    /// (a later write, another tab's newer save say, may have replaced it since).
    fn online_saved(&mut self, dev: usize, tab: usize) -> Check {
        let Some(run) = self.devices[dev].tabs[tab].online.take() else {
            return Ok(());
        };
        for (field, value) in &run.typed {
            let accepted = self
                .server
                .changes
                .get(field)
                .is_some_and(|changes| changes.iter().any(|(_, v)| v == value));
            ensure!(
                accepted,
                "dev{dev}.{tab}: typed {value:?} into {field:?} and was told it was saved, but \
                 the server never accepted it"
            );
        }
        if let Some(session) = self.devices[dev].tabs[tab].form.as_mut() {
            session.form.saved(&run.patch);
        }
        self.devices[dev].tabs[tab].form = None;
        for (field, value) in run.typed {
            self.ack(dev, field, value);
        }
        Ok(())
    }

    /// Whether the write that put `value` in `field` on the server was one the person discarded
    /// by signing out while it was on its way: no longer its device's, which forgot it by the
    /// person's choice.
    fn put_by_disowned_write(&self, field: Field, value: &str, upto: u64) -> bool {
        self.introduced_at(field, value, upto)
            .and_then(|v| self.mutation_of(v))
            .is_some_and(|m| self.disowned.contains(m))
    }

    /// Whether device `dev` no longer knows the write `mutation` as its own: discarded by
    /// "Sign out anyway", or made before its record of the account was last deleted (a
    /// conflict naming its value is a question, not its own write taken for another's).
    fn no_longer_own(&self, dev: usize, mutation: &str) -> bool {
        self.disowned.contains(mutation)
            || self
                .write_memories
                .get(mutation)
                .is_some_and(|memory| *memory < self.devices[dev].forgettings)
    }

    /// Whether the write that put `value` in `field` on the server, as version `upto` holds
    /// it, was another device's than `dev`.
    fn put_by_another(&self, dev: usize, field: Field, value: &str, upto: u64) -> bool {
        self.introduced_at(field, value, upto)
            .and_then(|v| self.author_of(v))
            .is_some_and(|author| author != dev)
    }

    /// The version whose write put `value` in `field` on the server as version `upto` holds
    /// it: its latest change to that value up to then (a value may be put there again, typed
    /// back; a version may carry other devices' values in the fields it did not change).
    fn introduced_at(&self, field: Field, value: &str, upto: u64) -> Option<u64> {
        self.server
            .changes
            .get(&field)
            .and_then(|changes| {
                changes
                    .iter()
                    .rev()
                    .find(|(version, v)| v == value && *version <= upto)
            })
            .map(|(version, _)| *version)
    }

    /// Whether a device other than `dev` changed `field` by a version after `after`, up to
    /// `upto`.
    fn changed_by_another(&self, dev: usize, field: Field, after: u64, upto: u64) -> bool {
        self.server.changes.get(&field).is_some_and(|changes| {
            changes.iter().any(|(version, _)| {
                (after + 1..=upto).contains(version) && self.author_of(*version) != Some(dev)
            })
        })
    }

    /// The device whose write made `version` (`None` for the first).
    fn author_of(&self, version: u64) -> Option<usize> {
        usize::try_from(version.saturating_sub(1))
            .ok()
            .and_then(|index| self.server.authors.get(index))
            .copied()
            .flatten()
    }

    /// The mutation id of the write that made `version`.
    fn mutation_of(&self, version: u64) -> Option<&String> {
        usize::try_from(version.saturating_sub(1))
            .ok()
            .and_then(|index| self.server.history.get(index))
            .and_then(|p| p.mutation_id.as_ref())
    }

    /// An online-only save that did not save. "Changed on another device" must be true: a
    /// field the person typed in holds a value this device never wrote, other than what the
    /// form showed, or another device wrote while the save tried.
    fn online_failed(&mut self, dev: usize, tab: usize, failure: &OnlineFailure) -> Check {
        let Some(run) = self.devices[dev].tabs[tab].online.take() else {
            return Ok(());
        };
        if *failure != OnlineFailure::ChangedElsewhere {
            return Ok(());
        }
        let record = self
            .shown_record(dev, tab)
            .ok_or("online save without a record")?;
        let mut foreign = false;
        let known = record.other_side().map_or(0, |s| s.version);
        for field in run.patch.fields() {
            let current = field.get(&record.local).to_owned();
            let shown = run.patch.replaces.as_ref().map(|r| field.get(r));
            // Typed here, and not put there again by another device (typed back there).
            let own = self.typed[dev].contains(&current)
                && !self.put_by_another(dev, field, &current, known)
                && !self.put_by_disowned_write(field, &current, known);
            // Or changed and changed back by another device since the form showed it.
            let changed_back = run
                .patch
                .replaces_at
                .is_some_and(|at| self.changed_by_another(dev, field, at.get(field), known));
            if shown != Some(current.as_str()) && !own || changed_back {
                foreign = true;
                // The person is told, and has seen it: saving again is their choice.
                for (typed, value) in &run.typed {
                    if *typed == field {
                        self.note_edit(dev, field, value, [current.clone()]);
                    }
                }
            }
        }
        ensure!(
            foreign || run.changed_elsewhere,
            "dev{dev}.{tab}: an online-only save was told the profile changed on another \
             device, but only this device's own writes changed it"
        );
        if let Some(session) = self.devices[dev].tabs[tab].form.as_mut() {
            session.form.seen_stored();
        }
        Ok(())
    }

    /// What the person typed (`typed`) after a save or a conflict choice that was stored:
    /// each value is what the device holds, or "mine" in a conflict, or was dropped by "The
    /// other device wins" (the server's value stays). Returns the values kept.
    fn kept_typing(
        &self,
        dev: usize,
        tab: usize,
        typed: Vec<(Field, String)>,
    ) -> Result<Vec<(Field, String)>, String> {
        let stored = self.devices[dev].store.clone().ok_or("edit not stored")?;
        let mut kept = Vec::new();
        for (field, value) in typed {
            let saved = field.get(&stored.local);
            let in_conflict = stored
                .conflict
                .as_ref()
                .is_some_and(|c| c.fields.iter().any(|f| f.field == field && f.mine == value));
            // "The other device wins", chosen by the person, drops typing over a change made
            // elsewhere that the form had not shown: the server's value stays.
            let lost_by_policy = self.devices[dev].policy == ConflictPolicy::RemoteWins
                && stored
                    .base
                    .as_ref()
                    .is_some_and(|b| field.get(&b.fields()) == saved);
            ensure!(
                saved == value || in_conflict || lost_by_policy,
                "dev{dev}.{tab}: typed {value:?} into {field:?}, but {saved:?} was saved"
            );
            if saved == value || in_conflict {
                kept.push((field, value));
            }
        }
        Ok(kept)
    }

    /// The person submits `values` as a new write: a local save, an online-only save's new
    /// write, or values typed in the conflict dialog ([`World::submitted`]).
    fn submit(&mut self, dev: usize, values: impl IntoIterator<Item = String>) {
        self.submissions += 1;
        for value in values {
            self.submitted.insert((dev, value), self.submissions);
        }
    }

    /// A write of device `dev` seen leaving for the first time: each field's value carries the
    /// act that last submitted it by now ([`World::write_acts`]).
    fn note_write(&mut self, dev: usize, write: &SentWrite) {
        self.write_memories
            .entry(write.mutation.clone())
            .or_insert(self.devices[dev].forgettings);
        for field in Field::ALL {
            let key = (write.mutation.clone(), field);
            let value = field.get(&write.fields).to_owned();
            if let Some(act) = self.submitted.get(&(dev, value)).copied() {
                self.write_acts.entry(key).or_insert(act);
            }
        }
    }

    /// `value` was typed into `field` on device `dev` by a person who saw `replaced` there.
    fn note_edit(
        &mut self,
        dev: usize,
        field: Field,
        value: &str,
        replaced: impl IntoIterator<Item = String>,
    ) {
        self.note_edit_at(dev, field, value, replaced, self.counter);
    }

    /// [`World::note_edit`] by a person who saw `replaced` at `at` ([`World::counter`]).
    fn note_edit_at(
        &mut self,
        dev: usize,
        field: Field,
        value: &str,
        replaced: impl IntoIterator<Item = String>,
        at: u64,
    ) {
        let local_wins = self.devices[dev].policy == ConflictPolicy::LocalWins;
        let replaced: Vec<_> = replaced
            .into_iter()
            .map(|v| {
                let typing = self.seen_typing(dev, field, &v);
                (v, typing)
            })
            .collect();
        let p = self
            .provenance
            .entry((dev, field, value.to_owned()))
            .or_default();
        for (v, typing) in replaced {
            p.see(v, typing, at);
        }
        p.local_wins |= local_wins;
    }

    /// Which typing of `value` (device and incarnation) device `dev` sees in `field`: the one
    /// the server state it knows holds, where it holds the value (records follow it), else
    /// this device's own latest, where it typed the value. Another device's typing reaches it
    /// only through the server: seeing the value after that device typed it again, but before
    /// that write arrived, is seeing the earlier typing.
    fn seen_typing(&self, dev: usize, field: Field, value: &str) -> Option<(usize, u64)> {
        let known = self.devices[dev]
            .store
            .as_ref()
            .and_then(|r| r.base.as_ref())
            .map_or(self.server.profile.version, |b| b.version);
        let held = usize::try_from(known.saturating_sub(1))
            .ok()
            .and_then(|i| self.server.history.get(i))
            .is_some_and(|p| field.get(&p.fields()) == value);
        if !held && self.typed[dev].contains(value) {
            return Some((dev, self.typed_back_at(dev, field, value)));
        }
        self.typing_at(field, value, known)
    }

    /// The typing of `value` (device and incarnation) the server holds in `field` as version
    /// `upto` has it.
    fn typing_at(&self, field: Field, value: &str, upto: u64) -> Option<(usize, u64)> {
        let typist = self.typist_of(field, value, upto)?;
        let incarnation = self
            .introduced_at(field, value, upto)
            .and_then(|v| self.change_incarnations.get(&(field, v)))
            .copied()
            .unwrap_or(0);
        Some((typist, incarnation))
    }

    /// Whether device `dev` may write `new` over `old` in `field`: the edit that made `new`
    /// had seen `old` (or was kept over it, or "This device wins" was in force), directly or
    /// through the person's own chain of edits on that device (`new` typed over their own `m`,
    /// which was allowed over `old`), or both are the device's own and the write carrying
    /// `new` (`act`) was made by a later act of the person than the write that put `old` on
    /// the server ([`World::write_acts`]), or `new`'s online-only save was still on its way
    /// when `old` was submitted (two saves of one person racing, in two tabs). Having typed
    /// `old` is not enough: a value of a save that ended must not come back over a later
    /// save's.
    fn may_replace(
        &self,
        dev: usize,
        field: Field,
        (new, act): (&str, Option<u64>),
        old: &str,
        depth: usize,
    ) -> bool {
        let version = self.server.profile.version;
        // Both this device's, as the server holds `old`: not put there by another device's
        // typing of the same value.
        let old_typist = self.typist_of(field, old, version);
        let own = old_typist == Some(dev) && self.typed[dev].contains(new);
        let on_its_way = self.devices[dev].tabs.iter().any(|t| {
            t.online
                .as_ref()
                .is_some_and(|run| run.typed.iter().any(|(f, v)| *f == field && v == new))
        });
        if new == old || own && (self.server_acts.get(&field).copied() < act || on_its_way) {
            return true;
        }
        // The edit that made `new`: this device's typing of it; or, written here unchanged from
        // another device (taken over in a merge or a conflict choice), that device's.
        let typists: Vec<usize> = if self.typed[dev].contains(new) {
            vec![dev]
        } else {
            (0..self.devices.len())
                .filter(|d| self.typed[*d].contains(new))
                .collect()
        };
        // `old` as the server holds it, typed (or typed back) then: an edit saw it if it saw
        // the value since, not an earlier typing of the same value.
        let old_typed = self.server_incarnations.get(&field).copied().unwrap_or(0);
        typists.into_iter().any(|typist| {
            let Some(p) = self.provenance.get(&(typist, field, new.to_owned())) else {
                return false;
            };
            // The latest typing of `new` by this typist that the edit of `old` saw.
            let old_saw_new = old_typist
                .and_then(|a| self.provenance.get(&(a, field, old.to_owned())))
                .and_then(|o| o.saw_typed_by(new, typist));
            // "This device wins" settles edits made apart, not another device's edit made
            // after `new` was seen: writing `new` back over it would undo a later, informed
            // choice (a write whose outcome was lost, merged as if it were in conflict). This
            // device's own values are ordered by the person's saves instead (above). Seen as
            // `new` is now: its typing since it was last typed back, if it was.
            let after_new = old_typist != Some(dev)
                && old_saw_new >= Some(self.typed_back_at(typist, field, new));
            p.local_wins && !after_new
                || p.seen.get(old).is_some_and(|at| *at >= old_typed)
                || depth < 16
                    && p.seen.keys().any(|m| {
                        self.typed[dev].contains(m)
                            && self.may_replace(
                                dev,
                                field,
                                (m, self.submitted.get(&(dev, m.clone())).copied()),
                                old,
                                depth + 1,
                            )
                    })
        })
    }

    /// The device whose typing of `value` the server holds in `field` as version `upto` has
    /// it: the author of its latest change to that value, where that device typed it; else
    /// (another device wrote it unchanged from its record) the first device that typed it.
    fn typist_of(&self, field: Field, value: &str, upto: u64) -> Option<usize> {
        let author = self
            .introduced_at(field, value, upto)
            .and_then(|v| self.author_of(v))
            .filter(|a| self.typed[*a].contains(value));
        author.or_else(|| (0..self.devices.len()).find(|d| self.typed[*d].contains(value)))
    }

    /// When `value` of `field` was last typed back on device `dev` ([`World::counter`]), or 0.
    fn typed_back_at(&self, dev: usize, field: Field, value: &str) -> u64 {
        self.incarnations
            .get(&(dev, field, value.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The page's effect: the form follows the record the tab shows.
    fn follow_form(&mut self, dev: usize, tab: usize) -> Check {
        let t = &mut self.devices[dev].tabs[tab];
        let shown = t.sync.machine().record().map(LocalRecord::view);
        if let (Some(session), Some(shown)) = (t.form.as_mut(), shown)
            && let Some(field) = session.form.follow(&shown)
            && let Some((focused, seen)) = session.focus.as_mut()
            && *focused == field
        {
            // Filled under them, its text selected (as the page does): they type over it.
            *seen = field.get(&session.form.shown).to_owned();
            session.seen_at = self.counter;
        }
        self.form_keeps_typing(dev, tab)
    }

    /// Nothing typed leaves the form but by a save: each value typed since the last one
    /// still shows in its field, or this device has held it in a record (a save stored it,
    /// and a newer value may have replaced it since).
    fn form_keeps_typing(&self, dev: usize, tab: usize) -> Check {
        let t = &self.devices[dev].tabs[tab];
        let Some(session) = t.form.as_ref() else {
            return Ok(());
        };
        let held = [
            self.devices[dev].store.as_ref().map(|r| &r.local),
            t.sync.machine().record().map(|r| &r.local),
        ];
        for (field, value) in &session.typed {
            let shown = field.get(&session.form.shown);
            ensure!(
                shown.contains(value.as_str())
                    || held.iter().flatten().any(|l| field.get(l) == value)
                    || self.seen[dev].contains(&(*field, value.clone())),
                "dev{dev}.{tab}: typed {value:?} into {field:?}, and the form lost it before \
                 Save (it shows {shown:?})"
            );
        }
        Ok(())
    }

    /// BroadcastChannel message or `visibilitychange`: re-read the store.
    fn refresh(&mut self, dev: usize, tab: usize) -> Check {
        let stored = self.devices[dev].store.clone();
        self.tab_stored(dev, tab, stored)
    }

    pub fn ack(&mut self, dev: usize, field: Field, value: String) {
        self.typed[dev].insert(value.clone());
        // A value typed back is acknowledged anew: no longer excused by the edit that
        // replaced it the first time.
        self.excused.remove(&(field, value.clone()));
        if let Some(old) = self.last_own.insert((dev, field), value.clone()) {
            if old != value {
                self.earlier_own.insert((dev, field), old.clone());
            }
            self.excused.insert((field, old));
        }
        self.acked.push(Acked { dev, field, value });
    }

    fn resolve(&mut self, dev: usize, tab: usize) -> Check {
        let mut typed_in = None;
        let Some(conflict) = self.devices[dev].tabs[tab].sync.machine().status().conflict else {
            return Ok(());
        };
        let choice = self.rng.below(3);
        let resolution = match choice {
            0 => {
                for c in &conflict.fields {
                    self.pending_excuses.push((c.field, c.theirs.clone()));
                }
                Resolution::KeepMine
            }
            1 => {
                for c in &conflict.fields {
                    self.pending_excuses.push((c.field, c.mine.clone()));
                }
                Resolution::UseTheirs
            }
            _ => {
                let mut patch = ProfilePatch::default();
                self.counter += 1;
                let mut new = Vec::new();
                for c in &conflict.fields {
                    self.pending_excuses.push((c.field, c.theirs.clone()));
                    self.pending_excuses.push((c.field, c.mine.clone()));
                    let value = format!("e{}-{:?}", self.counter, c.field);
                    patch.set(c.field, value.clone());
                    new.push((c.field, value));
                }
                self.submit(dev, new.iter().map(|(_, v)| v.clone()));
                for (_, value) in &new {
                    self.typed[dev].insert(value.clone());
                }
                typed_in = Some(new);
                Resolution::Edit(patch)
            }
        };
        // The page: a choice of sides settles the form's fields in the conflict. What the
        // person was typing there stays, as an edit over the value chosen, which the dialog
        // showed them next to the other side.
        if matches!(resolution, Resolution::KeepMine | Resolution::UseTheirs)
            && let Some(session) = self.devices[dev].tabs[tab].form.as_mut()
        {
            session.form.settled(&conflict.chosen(&resolution));
            let typing: Vec<(Field, String)> = session.typed.clone();
            for (field, value) in typing {
                if let Some(c) = conflict.fields.iter().find(|c| c.field == field) {
                    self.note_edit(dev, field, &value, [c.mine.clone(), c.theirs.clone()]);
                }
            }
        }
        let discarded = std::mem::take(&mut self.pending_excuses);
        let (resolution_made, shown) = (resolution.clone(), conflict.clone());
        self.not_stored = false;
        self.tab_step(
            dev,
            tab,
            Input::Resolve {
                choice: resolution,
                seen: conflict,
            },
        )?;
        if !self.devices[dev].tabs[tab].open || self.not_stored {
            // Signed out in another tab, or the device store failed: the choice was refused
            // and said so; the dialog stays.
            return Ok(());
        }
        match &resolution_made {
            Resolution::KeepMine => {
                // Kept over the other side the dialog showed.
                for c in &shown.fields {
                    let typing = self.typing_at(c.field, &c.theirs, shown.remote.version);
                    self.provenance
                        .entry((dev, c.field, c.mine.clone()))
                        .or_default()
                        .see(c.theirs.clone(), typing, self.counter);
                }
            }
            Resolution::Edit(patch) => {
                for c in &shown.fields {
                    if let Some(value) = patch.get(c.field) {
                        self.note_edit(dev, c.field, value, [c.mine.clone(), c.theirs.clone()]);
                    }
                }
            }
            Resolution::UseTheirs => {}
        }
        if let Some(new) = typed_in {
            for (field, value) in self.kept_typing(dev, tab, new)? {
                self.ack(dev, field, value);
            }
        }
        // A choice made on a conflict that changed meanwhile is not applied: nothing of it
        // was discarded then.
        if self.devices[dev].tabs[tab]
            .sync
            .machine()
            .status()
            .conflict
            .is_none()
        {
            self.excused.extend(discarded);
        }
        Ok(())
    }

    /// The server's answer to one request (`None`: a fault the request did not survive).
    fn server_answer(&mut self, dev: usize, req: &Req) -> Input {
        let id = req.id();
        if self.chaos && self.rng.chance(4) {
            let retry_after = self.rng.chance(50).then(|| self.rng.below(40_000));
            return Input::RequestFailed {
                request: id,
                retry_after,
            };
        }
        if self.chaos && self.rng.chance(2) {
            return Input::Unauthorized { request: id };
        }
        let write = match req {
            Req::Get { .. } => {
                return Input::GetAnswered {
                    request: id,
                    profile: self.server.profile.clone(),
                };
            }
            Req::Upload { sha256, .. } => {
                self.server.photos.insert(sha256.clone());
                return Input::PhotoStored { request: id };
            }
            Req::Put { write, .. } => write.clone(),
        };
        let seen = self.server.keys.get(&write.mutation).cloned();
        let known = seen.is_some();
        if let Some((first, _)) = &seen
            && *first != write
        {
            self.log.push(format!(
                "    KEY REUSED: {} first named {first:?}",
                write.mutation
            ));
            self.key_reused = true;
        }
        if let Some((_, Some(applied))) = seen
            .filter(|_| self.server.idempotent)
            .filter(|(_, v)| v.is_some_and(|v| v >= self.server.floor))
        {
            let index = usize::try_from(applied - 1).unwrap_or(usize::MAX);
            self.log.push(format!(
                "    server replays v{applied} for the repeated key"
            ));
            return Input::PutAccepted {
                request: id,
                profile: self.server.history[index].clone(),
            };
        }
        // The server's own refusal of the body (a 4xx with its JSON error, as after a rule
        // changed), decided after the key's lookup, as the server does: an applied write is
        // answered by its key above, never refused. Nothing applied, nothing recorded.
        // The verdict depends on the body, so every copy of one write gets the same one.
        // The record that names a photo never reaches the server before the photo (the real
        // server would refuse it with 422 `photo_missing`; other devices would be told of a
        // photo they cannot fetch).
        if let Some(sha256) = uploaded_photo(&write.fields.photo_url)
            && !self.server.photos.contains(sha256)
        {
            if self.causal_violation.is_none() {
                self.causal_violation = Some(format!(
                    "dev{dev} sent a write naming photo {sha256} before the server held it"
                ));
            }
            return Input::PhotoMissing { request: id };
        }
        let refused = self.refused_keys.contains(&write.mutation)
            || (self.chaos && !known && self.refusals.chance(3));
        if refused {
            self.refused_keys.insert(write.mutation.clone());
            return Input::RequestRejected {
                request: id,
                reason: "refused".to_owned(),
            };
        }
        self.server
            .keys
            .entry(write.mutation.clone())
            .or_insert((write.clone(), None));
        if write.if_match != self.server.profile.version {
            // Its key unknown (or pruned), and the version it would have made pruned too:
            // whether it was applied cannot be told (409 `history_pruned`).
            if write.if_match + 1 < self.server.floor {
                return Input::PutForgotten {
                    request: id,
                    current: self.server.profile.clone(),
                };
            }
            return Input::PutStale {
                request: id,
                current: self.server.profile.clone(),
            };
        }
        let version = write.if_match + 1;
        for field in Field::ALL {
            let old = field.get(&self.server.profile.fields()).to_owned();
            let new = field.get(&write.fields);
            let act = self
                .write_acts
                .get(&(write.mutation.clone(), field))
                .copied();
            let allowed = self.may_replace(dev, field, (new, act), &old, 0);
            if !allowed && self.causal_violation.is_none() {
                self.causal_violation = Some(format!(
                    "dev{dev} wrote {field:?} = {new:?} over {old:?} (v{version}): no edit that \
                     made {new:?} had seen {old:?} or been kept over it"
                ));
            }
            if field.get(&write.fields) != old
                && !self.seen[dev].contains(&(field, old.clone()))
                && self.unseen_overwrite.is_none()
            {
                self.unseen_overwrite = Some(format!(
                    "dev{dev} wrote {field:?} = {:?} over {old:?}, which it had never seen",
                    field.get(&write.fields)
                ));
            }
            // The act that put the value there: of a value written again unchanged by the
            // device whose typing it is, the later (another device's act of the same value
            // orders that device's saves, not this typing's).
            let current = self.server.profile.version;
            let theirs = new == old && self.typist_of(field, &old, current) != Some(dev);
            if let Some(act) = act.filter(|_| !theirs) {
                let held = self.server_acts.entry(field).or_insert(act);
                if new != old || act > *held {
                    *held = act;
                }
            } else if new != old {
                self.server_acts.remove(&field);
            }
            if new != old {
                let incarnation = self.typed_back_at(dev, field, new);
                self.server_incarnations.insert(field, incarnation);
                self.change_incarnations
                    .insert((field, version), incarnation);
            }
            if field.get(&write.fields) != field.get(&self.server.profile.fields()) {
                self.server
                    .changes
                    .entry(field)
                    .or_default()
                    .push((version, field.get(&write.fields).to_owned()));
            }
        }
        let key = self.server.idempotent.then(|| write.mutation.clone());
        self.server.profile = self
            .server
            .profile
            .next(&write.fields, format!("v{version}"), key);
        self.server.history.push(self.server.profile.clone());
        self.server.authors.push(Some(dev));
        if let Some(entry) = self.server.keys.get_mut(&write.mutation) {
            entry.1 = Some(version);
        }
        self.log.push(format!("    server accepted v{version}"));
        // The pruning task runs while writes come in: sometimes right after one.
        if self.chaos && self.refusals.chance(40) {
            self.prune_history();
        }
        for d in 0..self.devices.len() {
            for t in 0..self.devices[d].tabs.len() {
                self.net.push(Msg::ToWriter {
                    dev: d,
                    to: Writer::Tab(t),
                    input: Input::PushReceived { version },
                });
            }
        }
        Input::PutAccepted {
            request: id,
            profile: self.server.profile.clone(),
        }
    }

    /// A request or response that will never arrive: the shell's timeout reports it.
    fn lose(&mut self, msg: &Msg) {
        let timeout = |dev: usize, to: Writer, request: RequestId| Msg::ToWriter {
            dev,
            to,
            input: Input::RequestFailed {
                request,
                retry_after: None,
            },
        };
        match msg {
            Msg::ToServer { dev, from, req } => self.net.push(timeout(*dev, *from, req.id())),
            Msg::ToWriter { dev, to, input } => match input {
                // An answer garbled on its way (a proxy, a cut connection): it arrives, but is
                // not the server's word the shell can read.
                Input::PutAccepted { request, .. }
                | Input::PutStale { request, .. }
                | Input::PutForgotten { request, .. }
                    if self.rng.chance(50) =>
                {
                    self.net.push(Msg::ToWriter {
                        dev: *dev,
                        to: *to,
                        input: outcome_unknown(*request),
                    });
                }
                Input::PutAccepted { request, .. }
                | Input::PutStale { request, .. }
                | Input::PutForgotten { request, .. }
                | Input::GetAnswered { request, .. }
                | Input::RequestRejected { request, .. }
                | Input::PhotoStored { request }
                | Input::PhotoMissing { request }
                | Input::PhotoUnavailable { request, .. }
                | Input::Unauthorized { request } => self.net.push(timeout(*dev, *to, *request)),
                // A lost timeout is re-armed; pushes are just lost.
                Input::RequestFailed { .. } => self.net.push(msg.clone()),
                _ => {}
            },
            // A tab that missed a message re-reads before its next save anyway.
            Msg::Refresh { .. }
            | Msg::Settings { .. }
            | Msg::Local { .. }
            | Msg::SignedOut { .. }
            | Msg::Start { .. } => {}
        }
    }

    fn deliver(&mut self, index: usize) -> Check {
        let msg = self.net.remove(index);
        if self.chaos
            && !matches!(
                msg,
                Msg::Refresh { .. }
                    | Msg::Settings { .. }
                    | Msg::Local { .. }
                    | Msg::SignedOut { .. }
                    | Msg::Start { .. }
            )
        {
            if self.rng.chance(8) {
                self.log.push(format!("    lost {msg:?}"));
                self.lose(&msg);
                return Ok(());
            }
            if self.rng.chance(5) {
                self.net.push(msg.clone());
            }
        }
        match msg {
            Msg::ToServer { dev, from, req } => {
                let input = self.server_answer(dev, &req);
                if let Some(violation) = self.causal_violation.take() {
                    return Err(violation);
                }
                self.net.push(Msg::ToWriter {
                    dev,
                    to: from,
                    input,
                });
            }
            Msg::ToWriter {
                dev,
                to: Writer::Tab(tab),
                input,
            } => self.answer_tab(dev, tab, input)?,
            Msg::ToWriter {
                dev,
                to: Writer::Worker,
                input,
            } => self.worker_answered(dev, input)?,
            Msg::Refresh { dev, tab } => self.refresh(dev, tab)?,
            Msg::Settings { dev, tab } => {
                let policy = self.devices[dev].policy;
                self.tab_step(dev, tab, Input::PolicyChanged(policy))?;
            }
            Msg::Local { dev, tab, input } => self.answer_tab(dev, tab, input)?,
            Msg::Start { dev, tab, stored } => {
                let t = &mut self.devices[dev].tabs[tab];
                if t.open && t.starting {
                    t.starting = false;
                    self.tab_stored(dev, tab, stored)?;
                }
            }
            Msg::SignedOut { dev, tab } => {
                if self.devices[dev].tabs[tab].open {
                    self.close_tab(dev, tab)?;
                }
            }
        }
        Ok(())
    }

    /// Background Sync fires: `sendPendingChange` of `static/sw.js`, under the lock.
    fn worker_sync(&mut self, dev: usize) -> Check {
        let device = &mut self.devices[dev];
        if !device.online || !device.signed_in || device.lock.is_some() {
            return Ok(());
        }
        let Some(record) = device.store.clone() else {
            return Ok(());
        };
        // Only what a tab's core decided: the write in doubt, or the prepared one (after the
        // upload of its photo, when the core named one), moved to `sent` in one readwrite
        // transaction before it leaves.
        let answered = |sent: &SentWrite| {
            record
                .answer
                .as_ref()
                .is_some_and(|a| a.mutation_id.as_deref() == Some(sent.mutation.as_str()))
        };
        match (&record.sent, &record.prepared, &record.prepared_photo) {
            // Already answered (stored for the core): nothing to send.
            (Some(sent), _, _) if answered(sent) => Ok(()),
            (Some(sent), _, _) => self.worker_send(dev, WorkerJob::Put(sent.clone())),
            (None, Some(prepared), Some(sha256)) => {
                ensure!(
                    uploaded_photo(&prepared.fields.photo_url) == Some(sha256.as_str()),
                    "dev{dev}: the prepared write does not name the photo marked for upload"
                );
                // The bytes come from the device store; without them there is nothing to do
                // (a tab says so in words).
                if !self.devices[dev].photos.contains(sha256) {
                    return Ok(());
                }
                let job = WorkerJob::Upload {
                    sha256: sha256.clone(),
                    mutation: prepared.mutation.clone(),
                };
                self.worker_send(dev, job)
            }
            (None, Some(_), None) => {
                let write = self
                    .worker_takes_prepared(dev, None)
                    .ok_or("no prepared write")?;
                self.worker_send(dev, WorkerJob::Put(write))
            }
            (None, None, _) => Ok(()),
        }
    }

    /// Moves the stored prepared write to `sent` in one transaction (as `sw.js` does), when it
    /// is still the one `expected` names (its mutation and photo, after that photo's upload:
    /// noted as on the server). Returns the write, now in doubt.
    fn worker_takes_prepared(
        &mut self,
        dev: usize,
        expected: Option<(&str, &str)>,
    ) -> Option<SentWrite> {
        let record = self.devices[dev].store.clone()?;
        let write = record.prepared.clone().filter(|_| record.sent.is_none())?;
        let mut photos_on_server = record.photos_on_server.clone();
        if let Some((sha256, mutation)) = expected {
            if write.mutation != mutation || record.prepared_photo.as_deref() != Some(sha256) {
                return None;
            }
            if !photos_on_server.iter().any(|p| p == sha256) {
                photos_on_server.push(sha256.to_owned());
            }
        }
        let revision = self.revision_after(Some(&record));
        self.devices[dev].store = Some(LocalRecord {
            sent: Some(write.clone()),
            prepared: None,
            prepared_photo: None,
            photos_on_server,
            revision,
            ..record
        });
        self.broadcast(dev, None);
        Some(write)
    }

    /// Sends the service worker's request, holding the device's lock until it is answered.
    fn worker_send(&mut self, dev: usize, job: WorkerJob) -> Check {
        self.next_worker_request += 1;
        let id = RequestId(self.next_worker_request);
        self.log
            .push(format!("t={} dev{dev}.sw sends {job:?}", self.now));
        let req = match &job {
            WorkerJob::Upload { sha256, .. } => Req::Upload {
                id,
                sha256: sha256.clone(),
            },
            WorkerJob::Put(write) => Req::Put {
                id,
                write: write.clone(),
            },
        };
        if let WorkerJob::Put(write) = &job {
            self.note_write(dev, write);
        }
        self.check_not_answered(dev, &req)?;
        let device = &mut self.devices[dev];
        device.lock = Some(Writer::Worker);
        device.worker = Some((id, job));
        self.net.push(Msg::ToServer {
            dev,
            from: Writer::Worker,
            req,
        });
        Ok(())
    }

    /// The service worker's answer. After its photo's upload (201 or 200) the prepared write
    /// is moved to `sent` and sent, still under the lock. The server's word on its write (a
    /// 200, or a 412 naming its mutation) is stored beside the write as `answer`, not applied,
    /// as `sw.js` does; anything else is left for the app.
    fn worker_answered(&mut self, dev: usize, input: Input) -> Check {
        let Some((id, job)) = self.devices[dev].worker.clone() else {
            return Ok(());
        };
        let (request, answer) = match &input {
            Input::PutAccepted { request, profile } => (*request, Some(profile.clone())),
            Input::PutStale { request, current } => (*request, Some(current.clone())),
            Input::PhotoStored { request }
            | Input::RequestFailed { request, .. }
            | Input::PutForgotten { request, .. }
            | Input::RequestRejected { request, .. }
            | Input::PhotoMissing { request }
            | Input::PhotoUnavailable { request, .. }
            | Input::Unauthorized { request } => (*request, None),
            _ => return Ok(()),
        };
        if request != id {
            return Ok(());
        }
        self.log
            .push(format!("t={} dev{dev}.sw <- {input:?}", self.now));
        self.devices[dev].worker = None;
        let write = match job {
            WorkerJob::Upload { sha256, mutation } => {
                if matches!(input, Input::PhotoStored { .. })
                    && let Some(write) = self.worker_takes_prepared(dev, Some((&sha256, &mutation)))
                {
                    return self.worker_send(dev, WorkerJob::Put(write));
                }
                return self.release_lock(dev, Writer::Worker);
            }
            WorkerJob::Put(write) => write,
        };
        if let Some(answer) =
            answer.filter(|a| a.mutation_id.as_deref() == Some(write.mutation.as_str()))
            && let Some(current) = self.devices[dev].store.clone()
            && current
                .sent
                .as_ref()
                .is_some_and(|s| s.mutation == write.mutation)
        {
            let revision = self.revision_after(Some(&current));
            self.devices[dev].store = Some(LocalRecord {
                answer: Some(answer),
                revision,
                ..current
            });
            self.broadcast(dev, None);
        }
        self.release_lock(dev, Writer::Worker)
    }

    /// "Sign out" in a tab. Its view decides whether the person is warned first; the delete
    /// itself checks what the store holds in the same transaction (`may_delete`): a save of
    /// another tab that this one has not shown yet is kept, and the person is warned again
    /// (here: cancels).
    fn sign_out(&mut self, dev: usize, tab: usize) -> Check {
        if !self.devices[dev].signed_in || !self.devices[dev].tabs[tab].open {
            return Ok(());
        }
        let view = self.devices[dev].tabs[tab].sync.machine().record().cloned();
        let warned = view.as_ref().is_some_and(LocalRecord::has_unsynced_changes);
        let confirmed = match &view {
            // Warned: "Sign out anyway" discards exactly what the tab showed, or cancel.
            Some(view) if warned => {
                if !self.rng.chance(50) {
                    return Ok(());
                }
                Some(view.revision)
            }
            _ => None,
        };
        let store = self.devices[dev].store.clone();
        if !self.blind_sign_out && !LocalRecord::may_delete(store.as_ref(), confirmed) {
            self.log.push(format!(
                "dev{dev}.{tab} sign-out kept a newer unsynced save"
            ));
            return Ok(());
        }
        if warned && let Some(view) = view {
            // The person's explicit choice: what they were shown as unsynced is discarded.
            let mut states = vec![view.local.clone()];
            states.extend(view.sent.as_ref().map(|s| s.fields.clone()));
            self.disowned.extend(
                [&view.sent, &view.online_sent]
                    .into_iter()
                    .flatten()
                    .map(|s| s.mutation.clone()),
            );
            for fields in states {
                for field in Field::ALL {
                    self.excused.insert((field, field.get(&fields).to_owned()));
                }
            }
            for c in view.conflict.iter().flat_map(|c| &c.fields) {
                self.excused.insert((c.field, c.mine.clone()));
            }
        }
        self.log.push(format!("dev{dev}.{tab} signs out"));
        self.forget_record(dev);
        self.leave_account(dev, tab)
    }

    /// Signing in as another account on the device: this account's record stays unless it
    /// is synced (checked inside the delete's transaction), and its tabs stop.
    fn switch_account(&mut self, dev: usize) -> Check {
        if !self.devices[dev].signed_in {
            return Ok(());
        }
        self.log
            .push(format!("dev{dev} signs in as another account"));
        if LocalRecord::may_delete(self.devices[dev].store.as_ref(), None) {
            self.forget_record(dev);
        }
        let tab = self.rng.below(self.devices[dev].tabs.len() as u64) as usize;
        self.leave_account(dev, tab)
    }

    /// The account's record is deleted from the device store.
    fn forget_record(&mut self, dev: usize) {
        self.devices[dev].store = None;
        self.devices[dev].forgettings += 1;
    }

    /// The session is no longer this account: the tab that did it stops at once, the others
    /// when the message reaches them.
    fn leave_account(&mut self, dev: usize, tab: usize) -> Check {
        self.devices[dev].signed_in = false;
        if self.devices[dev].tabs[tab].open {
            self.close_tab(dev, tab)?;
        }
        for other in 0..self.devices[dev].tabs.len() {
            if self.devices[dev].tabs[other].open {
                self.net.push(Msg::SignedOut { dev, tab: other });
            }
        }
        Ok(())
    }

    fn fire_timer(&mut self, dev: usize, tab: usize) -> Check {
        if let Some(at) = self.devices[dev].tabs[tab].timer.take() {
            self.now = self.now.max(at);
            self.tab_step(dev, tab, Input::TimerFired)?;
        }
        Ok(())
    }

    /// The sync configuration a page opening on `dev` reads from its settings now.
    fn settings(&self, dev: usize) -> SyncConfig {
        SyncConfig {
            policy: self.devices[dev].policy,
            ..self.config.clone()
        }
    }

    /// A reload (or a close, then a reopen later): the page's memory, its lock and its
    /// requests' answers are gone.
    fn close_tab(&mut self, dev: usize, tab: usize) -> Check {
        self.log.push(format!("dev{dev}.{tab} closes"));
        let config = self.settings(dev);
        let t = &mut self.devices[dev].tabs[tab];
        *t = Tab::new(&config);
        t.open = false;
        self.net
            .retain(|m| !matches!(m, Msg::Start { dev: d, tab: t, .. } if (*d, *t) == (dev, tab)));
        self.release_lock(dev, Writer::Tab(tab))
    }

    /// The device loses power (or the browser quits or crashes): every page and the service
    /// worker stop at once, their locks released and whatever was on its way to them lost;
    /// requests already on the wire may still reach the server. Unlike a page's reload, the
    /// service worker may be stopped in the middle of its request (the browser also ends a
    /// worker whose event runs too long), and the next writer sends the same write again.
    /// Every commit is strict (on disk before it is reported done), so the store keeps them.
    fn power_cut(&mut self, dev: usize) -> Check {
        self.log.push(format!("dev{dev} loses power"));
        let device = &mut self.devices[dev];
        device.lock = None;
        device.worker = None;
        for tab in self.each_tab(dev) {
            if self.devices[dev].tabs[tab].open {
                self.close_tab(dev, tab)?;
            }
        }
        Ok(())
    }

    fn open_tab(&mut self, dev: usize, tab: usize) -> Check {
        if !self.devices[dev].signed_in {
            return Ok(());
        }
        let config = self.settings(dev);
        let t = &mut self.devices[dev].tabs[tab];
        if t.open {
            return Ok(());
        }
        self.log.push(format!("dev{dev}.{tab} opens"));
        // The page reads the settings as it opens; the record comes later.
        *t = Tab::new(&config);
        let stored = self.devices[dev].store.clone();
        if !self.devices[dev].online {
            self.tab_step(dev, tab, Input::WentOffline)?;
        }
        self.devices[dev].tabs[tab].starting = true;
        self.net.push(Msg::Start { dev, tab, stored });
        Ok(())
    }

    /// The server prunes its history: the last one or two versions keep their keys.
    fn prune_history(&mut self) {
        let keep = 1 + self.rng.below(2);
        let floor = (self.server.profile.version + 1)
            .saturating_sub(keep)
            .max(1);
        if floor > self.server.floor {
            self.log
                .push(format!("server prunes the history below v{floor}"));
            self.server.floor = floor;
        }
    }

    /// A device that goes offline loses what was on its way when the connection went, each
    /// with even odds: an answer coming to it, and the answer to a request of its own that
    /// reaches the server just then (applied, answer lost). The outcome of such a write stays
    /// unknown on the device for as long as it stays away, while others write.
    fn drop_answers_on_the_way(&mut self, dev: usize) -> Check {
        let (its, rest): (Vec<Msg>, Vec<Msg>) =
            std::mem::take(&mut self.net).into_iter().partition(|m| {
                matches!(m, Msg::ToWriter { dev: d, .. } | Msg::ToServer { dev: d, .. } if *d == dev)
            });
        self.net = rest;
        for msg in its {
            if !self.rng.chance(50) {
                self.net.push(msg);
                continue;
            }
            self.log.push(format!("    lost going offline: {msg:?}"));
            if let Msg::ToServer { dev, from, req } = &msg {
                let input = self.server_answer(*dev, req);
                if let Some(violation) = self.causal_violation.take() {
                    return Err(violation);
                }
                self.lose(&Msg::ToWriter {
                    dev: *dev,
                    to: *from,
                    input,
                });
            } else {
                self.lose(&msg);
            }
        }
        Ok(())
    }

    fn restart_server(&mut self) {
        self.log.push("server restarts".into());
        let (lost, kept): (Vec<Msg>, Vec<Msg>) = std::mem::take(&mut self.net)
            .into_iter()
            .partition(|m| matches!(m, Msg::ToServer { .. }));
        self.net = kept;
        for m in &lost {
            self.lose(m);
        }
    }

    fn each_tab(&self, dev: usize) -> impl Iterator<Item = usize> + use<> {
        0..self.devices[dev].tabs.len()
    }

    /// The person picks a conflict policy in one tab's Settings: stored on the device, in
    /// force in that tab, announced to the device's other tabs (they re-read the settings when
    /// the message arrives; until then their commits are refused).
    fn choose_policy(&mut self, dev: usize, tab: usize) -> Check {
        let policy = match self.rng.below(3) {
            0 => ConflictPolicy::Ask,
            1 => ConflictPolicy::LocalWins,
            _ => ConflictPolicy::RemoteWins,
        };
        self.log.push(format!("dev{dev}.{tab} chooses {policy:?}"));
        self.devices[dev].policy = policy;
        if policy == ConflictPolicy::LocalWins {
            for ((typist, _, _), p) in &mut self.provenance {
                if *typist == dev {
                    p.local_wins = true;
                }
            }
        }
        if self.devices[dev].tabs[tab].open {
            self.tab_step(dev, tab, Input::PolicyChanged(policy))?;
        }
        for other in self.each_tab(dev) {
            if other != tab && self.devices[dev].tabs[other].open {
                self.net.push(Msg::Settings { dev, tab: other });
            }
        }
        Ok(())
    }

    pub fn step(&mut self) -> Check {
        self.put_left = None;
        self.now += self.rng.below(3000);
        let dev = self.rng.below(self.devices.len() as u64) as usize;
        let tab = self.rng.below(self.devices[dev].tabs.len() as u64) as usize;
        match self.rng.below(100) {
            0..=17 => self.edit(dev, tab)?,
            18..=52 => {
                if !self.net.is_empty() {
                    // Mostly the oldest few messages; sometimes any (reordering, delay).
                    let len = self.net.len() as u64;
                    let i = if self.rng.chance(70) {
                        self.rng.below(len.min(3))
                    } else {
                        self.rng.below(len)
                    };
                    self.deliver(i as usize)?;
                }
            }
            53..=62 => self.fire_timer(dev, tab)?,
            63..=67 => {
                let online = !self.devices[dev].online;
                self.devices[dev].online = online;
                if !online {
                    self.drop_answers_on_the_way(dev)?;
                }
                let input = if online {
                    Input::WentOnline
                } else {
                    Input::WentOffline
                };
                for t in self.each_tab(dev) {
                    self.tab_step(dev, t, input.clone())?;
                }
            }
            68..=69 => {
                // A restart, or the server's pruning task at work.
                if self.rng.chance(50) {
                    self.restart_server();
                } else {
                    self.prune_history();
                }
            }
            70..=73 => {
                if self.chaos && self.power.chance(10) {
                    self.power_cut(dev)?;
                } else if self.chaos && self.clears.chance(5) {
                    self.clear_photos(dev);
                } else {
                    self.close_tab(dev, tab)?;
                    if self.rng.chance(70) {
                        self.open_tab(dev, tab)?;
                    }
                }
            }
            74..=75 => self.open_tab(dev, tab)?,
            76..=78 => self.worker_sync(dev)?,
            79..=85 => {
                // Shown a conflict, the person sometimes goes to Settings and picks another
                // policy instead of answering it (in this tab; the others hear later).
                let shown = self.devices[dev].tabs[tab]
                    .sync
                    .machine()
                    .status()
                    .conflict
                    .is_some();
                if shown && self.rng.chance(25) {
                    self.choose_policy(dev, tab)?;
                } else {
                    self.resolve(dev, tab)?;
                }
            }
            86..=88 => {
                // The person answers what the status asks of them.
                let status = self.devices[dev].tabs[tab].sync.machine().status();
                if status.needs_sign_in {
                    self.tab_step(dev, tab, Input::SignedIn)?;
                } else if status.last_error == Some(PHOTO_GONE) {
                    self.replace_gone_photo(dev, tab)?;
                }
            }
            89..=91 => {
                // Shown or focused again (`became_visible`), or its event stream connected:
                // re-read the store, then try at once.
                self.refresh(dev, tab)?;
                let input = if self.rng.chance(50) {
                    Input::TryNow
                } else {
                    Input::BecameVisible
                };
                self.tab_step(dev, tab, input)?;
            }
            92..=93 => self.tab_step(dev, tab, Input::SyncRequested)?,
            95 => self.sign_out(dev, tab)?,
            96 => self.switch_account(dev)?,
            97 => {
                if !self.devices[dev].signed_in {
                    self.log.push(format!("dev{dev} signs in again"));
                    self.devices[dev].signed_in = true;
                    self.open_tab(dev, tab)?;
                }
            }
            94 => self.choose_policy(dev, tab)?,
            _ => {
                // The event stream (re)connected: its first event is the version the server
                // is at, whatever this tab is waiting for.
                let version = self.server.profile.version;
                self.tab_step(dev, tab, Input::PushReceived { version })?;
            }
        }
        // Every writer of a device stops just after one of its writes left: the write is on
        // the wire, and nobody is left who knows it.
        if let Some(dev) = self.put_left.take()
            && self.chaos
            && self.power.chance(2)
        {
            self.power_cut(dev)?;
        }
        Ok(())
    }

    pub fn quiesce(&mut self) -> Check {
        self.chaos = false;
        // Every tab hears of a sign-out before the person signs in again.
        while let Some(i) = self
            .net
            .iter()
            .position(|m| matches!(m, Msg::SignedOut { .. }))
        {
            self.deliver(i)?;
        }
        // The server's pruning task runs while the devices come back: a write still in doubt
        // may meet a server that forgot its key.
        if self.refusals.chance(50) {
            self.prune_history();
        }
        for dev in 0..self.devices.len() {
            self.devices[dev].signed_in = true;
            if !self.devices[dev].online {
                self.devices[dev].online = true;
                for t in self.each_tab(dev) {
                    self.tab_step(dev, t, Input::WentOnline)?;
                }
            }
            for t in self.each_tab(dev) {
                self.open_tab(dev, t)?;
            }
        }
        for _round in 0..500 {
            let mut progress = false;
            let mut delivered = 0;
            while !self.net.is_empty() {
                self.deliver(0)?;
                progress = true;
                delivered += 1;
                // A livelock (writers waking each other forever) is a failure, not a hang.
                ensure!(delivered < 20_000, "messages never stop: a livelock");
            }
            for dev in 0..self.devices.len() {
                for tab in self.each_tab(dev) {
                    let status = self.devices[dev].tabs[tab].sync.machine().status();
                    if status.needs_sign_in {
                        // A 401 that was still on the wire: the person signs in again.
                        self.tab_step(dev, tab, Input::SignedIn)?;
                        progress = true;
                    }
                    if status.conflict.is_some() {
                        self.resolve(dev, tab)?;
                        progress = true;
                    }
                    if status.last_error == Some(PHOTO_GONE) {
                        self.replace_gone_photo(dev, tab)?;
                        progress = true;
                    }
                    if self.devices[dev].tabs[tab].timer.is_some() {
                        self.fire_timer(dev, tab)?;
                        progress = true;
                    }
                }
            }
            if !progress {
                // The event stream reconnects and tells every tab the current version.
                let version = self.server.profile.version;
                for dev in 0..self.devices.len() {
                    for tab in self.each_tab(dev) {
                        self.tab_step(dev, tab, Input::PushReceived { version })?;
                    }
                }
                if self.net.is_empty() {
                    return Ok(());
                }
            }
        }
        Err("no quiescence after 500 rounds".into())
    }

    pub fn check(&self) -> Check {
        ensure!(!self.key_reused, "a mutation id named two different writes");
        if let Some(overwrite) = &self.unseen_overwrite {
            return Err(overwrite.clone());
        }
        let server = self.server.profile.fields();
        for (i, d) in self.devices.iter().enumerate() {
            ensure!(
                d.store.as_ref().map(|r| &r.local) == Some(&server),
                "dev{i}: stored {:?} != server {server:?}",
                d.store.as_ref().map(|r| &r.local)
            );
            for (t, tab) in d.tabs.iter().enumerate() {
                let record = tab
                    .sync
                    .machine()
                    .record()
                    .ok_or(format!("dev{i}.{t}: no record"))?;
                ensure!(
                    record.local == server,
                    "dev{i}.{t}: local {:?} != server {server:?}",
                    record.local
                );
                ensure!(record.synchronized, "dev{i}.{t}: not synchronized");
                ensure!(record.conflict.is_none(), "dev{i}.{t}: conflict left");
                ensure!(record.sent.is_none(), "dev{i}.{t}: a write still in doubt");
                ensure!(
                    d.store.as_ref() == Some(record),
                    "dev{i}.{t}: stored record differs: {:?} vs {:?}",
                    d.store,
                    record
                );
                ensure!(
                    record.base.as_ref() == Some(&self.server.profile),
                    "dev{i}.{t}: base is not the server's state"
                );
                let status = tab.sync.machine().status();
                ensure!(
                    status.state == SyncState::Synced,
                    "dev{i}.{t}: status {:?}",
                    status.state
                );
            }
        }
        for a in &self.acked {
            let f = a.field;
            let v = &a.value;
            if f.get(&server) == v || self.excused.contains(&(f, v.clone())) {
                continue;
            }
            let changes = self.server.changes.get(&f).map_or(&[][..], Vec::as_slice);
            let accepted_at = changes.iter().find(|(_, x)| x == v).map(|(ver, _)| *ver);
            if let Some(at) = accepted_at
                && changes.iter().any(|(ver, x)| *ver > at && x != v)
            {
                continue;
            }
            return Err(format!(
                "lost update: dev{} acknowledged {f:?} = {v:?}, final is {:?}",
                a.dev,
                f.get(&server)
            ));
        }
        Ok(())
    }

    /// The tail of the log, for a failure report.
    pub fn tail(&self, lines: usize) -> Vec<&String> {
        let skip = self.log.len().saturating_sub(lines);
        self.log.iter().skip(skip).collect()
    }
}
