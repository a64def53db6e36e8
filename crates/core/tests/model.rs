//! Randomized model test of the sync machine: 2-4 simulated devices, a simulated server with
//! `If-Match` semantics, and a network that loses, delays, duplicates and reorders messages,
//! plus server and device restarts, pushes, timers, 401s, 503s and conflict choices.
//!
//! At quiescence every device must hold the server's fields, synchronized, and no
//! acknowledged edit may be lost. An edit is *acknowledged* once the device persisted it (the
//! `Persist` action of the `LocalEdit`). Every edit value is unique, so values identify edits.
//! An acknowledged value `v` of field `f` must be the final value of `f` unless it was
//! *legitimately replaced*:
//! 1. the same device later acknowledged another edit of `f` (its own newer typing), or
//! 2. the server accepted `v` at some version and later accepted a different value of `f`
//!    (a later edit, as ordered by server acceptance), or
//! 3. a person's explicit conflict choice discarded `v` (use theirs / keep mine / edit), or
//! 4. the policy `remote-wins` was in force and the server accepted a different value of `f`
//!    at a version newer than the device's base when `v` was typed (a concurrent change).
//!
//! Causal invariants, checked after every input:
//! * no conflict shows a value this device typed as the other side's (its own write, whose
//!   answer was lost, taken for another device's change);
//! * the record's base is the server's history at that version (same values, same mutation);
//! * a mutation id always names one write (same body, same If-Match) and the server applies
//!   it at most once; a repeat is answered with the original outcome.
//!
//! Schedules: `OUTPOST_SCHEDULES` (default 1000), seeds from `OUTPOST_SEED` (default fixed),
//! plus [`REGRESSION_SEEDS`] always.

use std::collections::{HashMap, HashSet};

use outpost_core::patch::ProfilePatch;
use outpost_core::sync::{
    Action, ConflictPolicy, Entropy, Field, Input, LocalRecord, Millis, RequestId, Resolution,
    SentWrite, SyncConfig, SyncMachine, SyncState,
};
use outpost_core::wire::{ProfileFields, ServerProfile};

/// Seeds that once failed (or exercise rare paths); always run.
/// 1577: a resent write refused with 401 was dropped from doubt although an earlier copy had
/// been applied; the device then showed its own value as the other side's.
const REGRESSION_SEEDS: &[u64] = &[1, 2, 3, 1577, 0xdead_beef];

/// xorshift64*: tiny deterministic PRNG for the schedule (not the machine's entropy).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

impl Entropy for Rng {
    fn next_u64(&mut self) -> u64 {
        self.next()
    }
}

#[derive(Clone, Debug)]
enum Req {
    Put { id: RequestId, write: SentWrite },
    Get { id: RequestId },
}

impl Req {
    fn id(&self) -> RequestId {
        match self {
            Req::Put { id, .. } | Req::Get { id } => *id,
        }
    }
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // test code: clarity over size
enum Msg {
    ToServer { dev: usize, req: Req },
    ToDevice { dev: usize, input: Input },
}

struct Server {
    profile: ServerProfile,
    /// Per field: (version, value) for every accepted change of that field.
    changes: HashMap<Field, Vec<(u64, String)>>,
    /// Every accepted version, index = version - 1.
    history: Vec<ServerProfile>,
    /// Every mutation id seen: the write it named and the version it produced, if applied.
    keys: HashMap<String, (SentWrite, Option<u64>)>,
    /// Whether the server keeps `Idempotency-Key`s (false: the old server, for the test that
    /// shows the invariants catch what it did).
    idempotent: bool,
}

struct Device {
    machine: SyncMachine,
    store: Option<LocalRecord>,
    online: bool,
    timer: Option<Millis>,
    /// The request this incarnation has out and not yet seen an answer for.
    outstanding: Option<RequestId>,
}

struct Acked {
    dev: usize,
    field: Field,
    value: String,
    base_version: u64,
}

struct World {
    rng: Rng,
    now: Millis,
    server: Server,
    devices: Vec<Device>,
    net: Vec<Msg>,
    config: SyncConfig,
    remote_wins_ever: bool,
    acked: Vec<Acked>,
    /// Per device: every value it typed (values are unique, so a value names its author).
    typed: Vec<HashSet<String>>,
    /// Values replaced by their own device's later edit, or discarded by a conflict choice.
    excused: HashSet<(Field, String)>,
    /// Per device and field: its last acknowledged value.
    last_own: HashMap<(usize, Field), String>,
    counter: u64,
    /// A mutation id was sent again naming another write (checked at the end).
    key_reused: bool,
    chaos: bool,
    log: Vec<String>,
}

type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(format!($($arg)*));
        }
    };
}

fn server_profile(fields: &ProfileFields, version: u64) -> ServerProfile {
    ServerProfile {
        name: fields.name.clone(),
        photo_url: fields.photo_url.clone(),
        version,
        updated_at: format!("v{version}"),
        mutation_id: None,
    }
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let n = 2 + rng.below(3) as usize;
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
        let devices = (0..n)
            .map(|_| Device {
                machine: SyncMachine::new(config.clone()),
                store: None,
                online: true,
                timer: None,
                outstanding: None,
            })
            .collect();
        World {
            rng,
            now: 1_000_000,
            server: Server {
                profile: server_profile(&initial, 1),
                changes: HashMap::new(),
                history: vec![server_profile(&initial, 1)],
                keys: HashMap::new(),
                idempotent: true,
            },
            typed: vec![HashSet::new(); n],
            devices,
            net: Vec::new(),
            remote_wins_ever: policy == ConflictPolicy::RemoteWins,
            config,
            acked: Vec::new(),
            excused: HashSet::new(),
            last_own: HashMap::new(),
            counter: 0,
            key_reused: false,
            chaos: true,
            log: Vec::new(),
        }
    }

    /// Feeds one input to a device and performs its actions like the shell would.
    fn input(&mut self, dev: usize, input: Input) -> Result<Vec<Action>, String> {
        self.log
            .push(format!("t={} dev{dev} <- {input:?}", self.now));
        if let Input::PutAccepted { request, .. }
        | Input::PutStale { request, .. }
        | Input::GetAnswered { request, .. }
        | Input::RequestFailed { request, .. }
        | Input::Unauthorized { request } = &input
            && self.devices[dev].outstanding == Some(*request)
        {
            self.devices[dev].outstanding = None;
        }
        let now = self.now;
        let actions = self.devices[dev].machine.handle(now, input, &mut self.rng);
        let mut persisted = false;
        for action in &actions {
            if !matches!(action, Action::Status(_)) {
                self.log.push(format!("    -> {action:?}"));
            }
            match action {
                Action::Persist(record) => {
                    ensure!(!persisted, "two Persist actions in one batch");
                    persisted = true;
                    self.devices[dev].store = Some(record.clone());
                }
                Action::SendPut { request, write } => {
                    let d = &mut self.devices[dev];
                    ensure!(
                        d.outstanding.is_none(),
                        "dev{dev}: second request in flight"
                    );
                    let stored = d.store.as_ref().ok_or("PUT before any Persist")?;
                    ensure!(
                        stored.sent.as_ref() == Some(write),
                        "dev{dev}: PUT not persisted as the write in doubt before it left"
                    );
                    ensure!(
                        !stored.synchronized,
                        "dev{dev}: PUT of a synchronized record"
                    );
                    d.outstanding = Some(*request);
                    self.net.push(Msg::ToServer {
                        dev,
                        req: Req::Put {
                            id: *request,
                            write: write.clone(),
                        },
                    });
                }
                Action::Fetch { request } => {
                    let d = &mut self.devices[dev];
                    ensure!(
                        d.outstanding.is_none(),
                        "dev{dev}: second request in flight"
                    );
                    d.outstanding = Some(*request);
                    self.net.push(Msg::ToServer {
                        dev,
                        req: Req::Get { id: *request },
                    });
                }
                Action::ScheduleRetry { after } => {
                    ensure!(
                        *after <= self.config.backoff_cap.max(60_000),
                        "retry delay {after} over the cap"
                    );
                    self.devices[dev].timer = Some(now + after);
                }
                Action::Status(status) => {
                    ensure!(
                        *status == self.devices[dev].machine.status(),
                        "emitted status differs from status()"
                    );
                }
            }
        }
        // The machine's record must always be what the shell has stored.
        ensure!(
            self.devices[dev].machine.record().is_none()
                || self.devices[dev].machine.record() == self.devices[dev].store.as_ref(),
            "dev{dev}: machine record differs from the persisted one"
        );
        self.check_causal(dev)?;
        Ok(actions)
    }

    /// The invariants that must hold after every step (see the module documentation).
    fn check_causal(&self, dev: usize) -> Check {
        let Some(record) = self.devices[dev].machine.record() else {
            return Ok(());
        };
        if let Some(conflict) = &record.conflict {
            for c in &conflict.fields {
                ensure!(
                    !self.typed[dev].contains(&c.theirs),
                    "dev{dev}: false conflict: its own {:?} = {:?} shown as the other side's",
                    c.field,
                    c.theirs
                );
            }
        }
        if let Some(base) = &record.base {
            let index = usize::try_from(base.version.saturating_sub(1)).unwrap_or(usize::MAX);
            ensure!(
                self.server.history.get(index) == Some(base),
                "dev{dev}: base v{} is not the server's history at that version",
                base.version
            );
        }
        Ok(())
    }

    /// The person types new values into one or both fields and saves: a patch of those
    /// fields (what the form sends whatever it was filled from).
    fn edit(&mut self, dev: usize) -> Check {
        self.counter += 1;
        let which = self.rng.below(3);
        let mut patch = ProfilePatch::default();
        let mut changed = Vec::new();
        if which != 1 {
            patch.set(Field::Name, format!("n{}", self.counter));
            changed.push(Field::Name);
        }
        if which != 0 {
            patch.set(Field::PhotoUrl, format!("https://p/{}", self.counter));
            changed.push(Field::PhotoUrl);
        }
        let actions = self.input(dev, Input::LocalEdit(patch.clone()))?;
        let persisted = actions.iter().any(|a| {
            matches!(a, Action::Persist(r)
                if patch.fields().all(|f| Some(f.get(&r.local)) == patch.get(f))
                    || r.conflict.is_some())
        });
        ensure!(persisted, "dev{dev}: edit not persisted");
        let fields = patch.apply(&ProfileFields::default());
        let base_version = self.devices[dev]
            .store
            .as_ref()
            .and_then(|r| r.base.as_ref())
            .map_or(0, |b| b.version);
        for field in changed {
            self.ack(dev, field, field.get(&fields).to_owned(), base_version);
        }
        Ok(())
    }

    fn ack(&mut self, dev: usize, field: Field, value: String, base_version: u64) {
        self.typed[dev].insert(value.clone());
        if let Some(old) = self.last_own.insert((dev, field), value.clone()) {
            self.excused.insert((field, old));
        }
        self.acked.push(Acked {
            dev,
            field,
            value,
            base_version,
        });
    }

    fn resolve(&mut self, dev: usize) -> Check {
        let Some(conflict) = self.devices[dev].machine.status().conflict else {
            return Ok(());
        };
        let choice = self.rng.below(3);
        let resolution = match choice {
            0 => {
                for c in &conflict.fields {
                    self.excused.insert((c.field, c.theirs.clone()));
                }
                Resolution::KeepMine
            }
            1 => {
                for c in &conflict.fields {
                    self.excused.insert((c.field, c.mine.clone()));
                }
                Resolution::UseTheirs
            }
            _ => {
                let record = self.devices[dev]
                    .machine
                    .record()
                    .ok_or("conflict without record")?;
                let mut fields = record.local.clone();
                let base_version = conflict.remote.version;
                self.counter += 1;
                let mut new = Vec::new();
                for c in &conflict.fields {
                    self.excused.insert((c.field, c.theirs.clone()));
                    self.excused.insert((c.field, c.mine.clone()));
                    let value = format!("e{}-{:?}", self.counter, c.field);
                    c.field.set(&mut fields, value.clone());
                    new.push((c.field, value));
                }
                for (field, value) in new {
                    self.ack(dev, field, value, base_version);
                }
                Resolution::Edit(fields)
            }
        };
        self.input(dev, Input::Resolve(resolution))?;
        ensure!(
            self.devices[dev].machine.status().state != SyncState::Conflict
                || self.devices[dev].machine.status().conflict != Some(conflict),
            "dev{dev}: conflict not resolved"
        );
        Ok(())
    }

    fn server_handle(&mut self, dev: usize, req: Req) {
        let id = req.id();
        let input = if self.chaos && self.rng.chance(4) {
            let retry_after = self.rng.chance(50).then(|| self.rng.below(40_000));
            Input::RequestFailed {
                request: id,
                retry_after,
            }
        } else if self.chaos && self.rng.chance(2) {
            Input::Unauthorized { request: id }
        } else {
            match req {
                Req::Get { .. } => Input::GetAnswered {
                    request: id,
                    profile: self.server.profile.clone(),
                },
                Req::Put { write, .. } => {
                    let fields = write.fields.clone();
                    let if_match = write.if_match;
                    let seen = self.server.keys.get(&write.mutation).cloned();
                    if let Some((first, _)) = &seen
                        && *first != write
                    {
                        self.log.push(format!(
                            "    KEY REUSED: {} first named {first:?}",
                            write.mutation
                        ));
                        self.key_reused = true;
                    }
                    if let Some((_, Some(applied))) = seen.filter(|_| self.server.idempotent) {
                        let index = usize::try_from(applied - 1).unwrap_or(usize::MAX);
                        let outcome = self.server.history[index].clone();
                        self.log.push(format!(
                            "    server replays v{applied} for the repeated key"
                        ));
                        self.net.push(Msg::ToDevice {
                            dev,
                            input: Input::PutAccepted {
                                request: id,
                                profile: outcome,
                            },
                        });
                        return;
                    }
                    self.server
                        .keys
                        .entry(write.mutation.clone())
                        .or_insert((write.clone(), None));
                    if if_match == self.server.profile.version {
                        let version = if_match + 1;
                        for field in Field::ALL {
                            if field.get(&fields) != field.get(&self.server.profile.fields()) {
                                self.server
                                    .changes
                                    .entry(field)
                                    .or_default()
                                    .push((version, field.get(&fields).to_owned()));
                            }
                        }
                        self.server.profile = server_profile(&fields, version);
                        if self.server.idempotent {
                            self.server.profile.mutation_id = Some(write.mutation.clone());
                        }
                        self.server.history.push(self.server.profile.clone());
                        if let Some(entry) = self.server.keys.get_mut(&write.mutation) {
                            entry.1 = Some(version);
                        }
                        self.log.push(format!("    server accepted v{version}"));
                        for d in 0..self.devices.len() {
                            self.net.push(Msg::ToDevice {
                                dev: d,
                                input: Input::PushReceived { version },
                            });
                        }
                        Input::PutAccepted {
                            request: id,
                            profile: self.server.profile.clone(),
                        }
                    } else {
                        Input::PutStale {
                            request: id,
                            current: self.server.profile.clone(),
                        }
                    }
                }
            }
        };
        self.net.push(Msg::ToDevice { dev, input });
    }

    /// A request or response that will never arrive: the shell's timeout reports it.
    fn lose(&mut self, msg: &Msg) {
        let timeout = |dev: usize, request: RequestId| Msg::ToDevice {
            dev,
            input: Input::RequestFailed {
                request,
                retry_after: None,
            },
        };
        match msg {
            Msg::ToServer { dev, req } => self.net.push(timeout(*dev, req.id())),
            Msg::ToDevice { dev, input } => match input {
                Input::PutAccepted { request, .. }
                | Input::PutStale { request, .. }
                | Input::GetAnswered { request, .. }
                | Input::Unauthorized { request } => self.net.push(timeout(*dev, *request)),
                // A lost timeout or push: the timeout is re-armed; pushes are just lost.
                Input::RequestFailed { .. } => self.net.push(msg.clone()),
                _ => {}
            },
        }
    }

    fn deliver(&mut self, index: usize) -> Check {
        let msg = self.net.remove(index);
        if self.chaos {
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
            Msg::ToServer { dev, req } => self.server_handle(dev, req),
            Msg::ToDevice { dev, input } => {
                if matches!(input, Input::Unauthorized { .. }) {
                    // The shell's session is gone; the person signs in later.
                }
                self.input(dev, input)?;
            }
        }
        Ok(())
    }

    fn fire_timer(&mut self, dev: usize) -> Check {
        if let Some(at) = self.devices[dev].timer.take() {
            self.now = self.now.max(at);
            self.input(dev, Input::TimerFired)?;
        }
        Ok(())
    }

    fn restart_device(&mut self, dev: usize) -> Check {
        let d = &mut self.devices[dev];
        d.machine = SyncMachine::new(self.config.clone());
        d.timer = None;
        d.outstanding = None;
        let online = d.online;
        let stored = d.store.clone();
        self.log.push(format!("dev{dev} restarts"));
        if !online {
            self.input(dev, Input::WentOffline)?;
        }
        self.input(dev, Input::Loaded(stored))?;
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

    fn step(&mut self) -> Check {
        self.now += self.rng.below(3000);
        let dev = self.rng.below(self.devices.len() as u64) as usize;
        match self.rng.below(100) {
            0..=17 => self.edit(dev)?,
            18..=54 => {
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
            55..=66 => self.fire_timer(dev)?,
            67..=72 => {
                let d = &mut self.devices[dev];
                d.online = !d.online;
                let input = if d.online {
                    Input::WentOnline
                } else {
                    Input::WentOffline
                };
                self.input(dev, input)?;
            }
            73..=75 => self.restart_server(),
            76..=78 => self.restart_device(dev)?,
            79..=86 => self.resolve(dev)?,
            87..=89 => {
                if self.devices[dev].machine.status().needs_sign_in {
                    self.input(dev, Input::SignedIn)?;
                }
            }
            90..=92 => {
                self.input(dev, Input::BecameVisible)?;
            }
            93..=94 => {
                self.input(dev, Input::SyncRequested)?;
            }
            95 => {
                let policy = match self.rng.below(3) {
                    0 => ConflictPolicy::Ask,
                    1 => ConflictPolicy::LocalWins,
                    _ => ConflictPolicy::RemoteWins,
                };
                if policy == ConflictPolicy::RemoteWins {
                    self.remote_wins_ever = true;
                }
                self.config.policy = policy;
                // Every device gets the new setting, like a synced preference.
                for d in 0..self.devices.len() {
                    self.input(d, Input::PolicyChanged(policy))?;
                }
            }
            _ => {
                let version = self.server.profile.version;
                self.input(dev, Input::PushReceived { version })?;
            }
        }
        Ok(())
    }

    fn quiesce(&mut self) -> Check {
        self.chaos = false;
        for dev in 0..self.devices.len() {
            if !self.devices[dev].online {
                self.devices[dev].online = true;
                self.input(dev, Input::WentOnline)?;
            }
            if self.devices[dev].machine.status().needs_sign_in {
                self.input(dev, Input::SignedIn)?;
            }
        }
        for _round in 0..500 {
            let mut progress = false;
            while !self.net.is_empty() {
                self.deliver(0)?;
                progress = true;
            }
            for dev in 0..self.devices.len() {
                if self.devices[dev].machine.status().needs_sign_in {
                    // A 401 that was still on the wire: the person signs in again.
                    self.input(dev, Input::SignedIn)?;
                    progress = true;
                }
                if self.devices[dev].machine.status().conflict.is_some() {
                    self.resolve(dev)?;
                    progress = true;
                }
                if self.devices[dev].timer.is_some() {
                    self.fire_timer(dev)?;
                    progress = true;
                }
            }
            if !progress {
                // The event stream reconnects and tells everyone the current version.
                let version = self.server.profile.version;
                for dev in 0..self.devices.len() {
                    self.input(dev, Input::PushReceived { version })?;
                }
                if self.net.is_empty() {
                    return Ok(());
                }
            }
        }
        Err("no quiescence after 500 rounds".into())
    }

    fn check(&self) -> Check {
        ensure!(!self.key_reused, "a mutation id named two different writes");
        let server = self.server.profile.fields();
        for (i, d) in self.devices.iter().enumerate() {
            let record = d.machine.record().ok_or(format!("dev{i}: no record"))?;
            ensure!(
                record.local == server,
                "dev{i}: local {:?} != server {server:?}",
                record.local
            );
            ensure!(record.synchronized, "dev{i}: not synchronized");
            ensure!(record.conflict.is_none(), "dev{i}: conflict left");
            ensure!(
                d.store.as_ref() == Some(record),
                "dev{i}: persisted record differs"
            );
            ensure!(
                record.base.as_ref() == Some(&self.server.profile),
                "dev{i}: base is not the server's state"
            );
            let status = d.machine.status();
            ensure!(
                status.state == SyncState::Synced,
                "dev{i}: status {:?}",
                status.state
            );
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
            if self.remote_wins_ever
                && changes
                    .iter()
                    .any(|(ver, x)| *ver > a.base_version && x != v)
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
}

fn run(seed: u64) -> (World, Check) {
    run_world(World::new(seed))
}

fn run_world(mut world: World) -> (World, Check) {
    let setup = |w: &mut World| -> Check {
        for dev in 0..w.devices.len() {
            w.input(dev, Input::Loaded(None))?;
        }
        let steps = 40 + w.rng.below(160);
        for _ in 0..steps {
            w.step()?;
        }
        w.quiesce()?;
        w.check()
    };
    let result = setup(&mut world);
    (world, result)
}

fn run_or_panic(seed: u64) -> World {
    let (world, result) = run(seed);
    if let Err(error) = result {
        let tail: Vec<&String> = world.log.iter().rev().take(80).rev().collect();
        for line in tail {
            eprintln!("{line}");
        }
        panic!("schedule with seed {seed} failed: {error}");
    }
    world
}

#[test]
fn regression_seeds() {
    for &seed in REGRESSION_SEEDS {
        run_or_panic(seed);
    }
}

#[test]
fn randomized_schedules() {
    let count: u64 = std::env::var("OUTPOST_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let first: u64 = std::env::var("OUTPOST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let started = std::time::Instant::now();
    let mut conflicts = 0;
    for seed in first..first + count {
        let world = run_or_panic(seed);
        conflicts += world.log.iter().filter(|l| l.contains("Resolve(")).count();
    }
    eprintln!(
        "{count} schedules from seed {first} passed in {:.2?} ({conflicts} conflict choices)",
        started.elapsed()
    );
}

/// The invariant can fail: a machine that silently drops local edits is caught.
#[test]
fn invariant_detects_a_lost_update() {
    let mut world = World::new(7);
    world.ack(0, Field::Name, "never-sent".into(), 1);
    world.chaos = false;
    for dev in 0..world.devices.len() {
        world.input(dev, Input::Loaded(None)).expect("load");
    }
    world.quiesce().expect("quiesce");
    let error = world.check().expect_err("must report the lost value");
    assert!(error.contains("lost update"), "{error}");
}

/// The causal invariants catch what the server did before it kept idempotency keys: a write
/// whose 200 was lost, sent again, met its own earlier success as a 412 and the device showed
/// its own value as "the other device's".
#[test]
fn invariants_catch_a_server_without_idempotency_keys() {
    let found = (1..3000u64).find_map(|seed| {
        let mut world = World::new(seed);
        world.server.idempotent = false;
        match run_world(world).1 {
            Err(error) if error.contains("false conflict") => Some(error),
            _ => None,
        }
    });
    assert!(found.is_some(), "no schedule showed a false conflict");
}
