import Logging
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

/// Drives every Raft replica of one node from one thread: one ticker for all groups, one batch
/// of `Ready`s per loop iteration whose records go to the WAL writer thread as one round
/// (group commit across groups; rounds handed in during a sync share the next one), then
/// messages out, batched per destination node, then apply. The loop never waits for the disk:
/// what must follow a write (acknowledgements, votes) waits in `rounds` until the writer
/// reports it durable.
///
/// Inputs arrive from any thread through a mailbox; results leave through completion
/// closures, called on the host thread (they must hand off quickly).
public final class RaftHost: @unchecked Sendable {
    public typealias Completion = @Sendable (Result<any Sendable, HostError>) -> Void
    public typealias ReadBody = @Sendable (any GroupStateMachine) -> any Sendable

    enum Input {
        case messages([(group: GroupID, message: Message)])
        /// A proposal, with the monotonic time it fails with `.timeout` if not applied by then.
        case propose(GroupID, [UInt8], deadline: Double, Completion)
        case read(GroupID, ReadBody, Completion)
        case transferLeadership(GroupID, ReplicaID)
        case confChange(GroupID, ConfChange, Completion)
        case snapshotReceived(GroupID, Message, String)
        case call(@Sendable (RaftHost) -> Void)
        /// The WAL writer made every round up to this sequence number durable.
        case durable(UInt64)
    }


    public let node: NodeID
    public let settings: HostSettings
    let wal: WriteAheadLog
    /// The thread that writes and syncs the WAL; every use of `wal` after start goes through it.
    private(set) var writer: WALWriter!
    /// Rounds handed to the writer and not yet durable, oldest first.
    var rounds = WriteRounds<(group: HostedGroup, message: Message)>()
    /// Records that need not be durable soon (commit-only hard states, compaction points):
    /// written with the next round that writes anything, or on a tick when idle.
    var lazyRecords: [WALRecord] = []
    var lazyGroups: Set<GroupID> = []
    let snapshotDirectory: String
    let transport: any RaftTransport
    var groups: [GroupID: HostedGroup] = [:]
    private let mailbox = Mutex<[Input]>([])
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)
    private let running = Atomic<Bool>(false)
    private let statusBox = Mutex<[GroupID: GroupStatus]>([:])
    /// What the host thread did (host thread only), published to `activityBox` every tick.
    var activity = HostActivity()
    private let activityBox = Mutex(HostActivity())
    /// Proposal and read ids. Random start: entries proposed by an earlier run of this node
    /// are still applied after a restart and must never match a new request's id.
    private var nextID = UInt64.random(in: 1...(UInt64.max >> 1))
    /// Groups whose replica here was removed, with the removed replica's id: messages to that
    /// id (or an older one) never bring the group back.
    var tombstones: [GroupID: ReplicaID] = [:]
    /// Set by `transferLeadershipsAway` (a stopping node): leadership transfers to this node
    /// are ignored from then on (host thread only).
    var refusesLeadership = false
    /// Snapshot transfers this node is sending.
    var snapshotSends = 0
    /// Snapshots being written on threads of their own.
    var snapshotWrites = 0
    /// Asked on the host thread when a leader contacts a replica this node does not host
    /// (a replica being added to a group): the state machine to host it with, or nil to ignore.
    public var groupFactory: (@Sendable (GroupID) -> (any GroupStateMachine)?)?
    /// Where the host loop runs: nil for a thread of its own, or an executor (an event loop)
    /// whose thread then does the host's work between its other tasks. Set before `start`.
    public var executor: (any HostExecutor)?
    /// The executor's tick timer (executor mode), cancelled by `stop`.
    private var cancelTicks: (@Sendable () -> Void)?
    /// The next tick's time (host thread only).
    private var nextTick = 0.0
    /// Held by each pass in executor mode, so `stop` can wait for the one running.
    private let passLock = Mutex(())
    /// The last pass took `maxInputsPerIteration` inputs and left the rest in the mailbox
    /// (host thread only).
    private var inputsLeftBehind = false

    public init(node: NodeID, settings: HostSettings, wal: WriteAheadLog, snapshotDirectory: String, transport: any RaftTransport) {
        self.node = node
        self.settings = settings
        self.wal = wal
        self.snapshotDirectory = snapshotDirectory
        self.transport = transport
        writer = WALWriter(wal: wal, onFatal: settings.onFatal, onDurable: { [weak self] seq in self?.submit(.durable(seq)) })
        snapshots.removeLeftovers()
    }

    // MARK: - Setup (before start)

    /// Hosts a replica of `group`: recovers it from the WAL and its newest snapshot file, or
    /// bootstraps it with `bootstrapVoters` when nothing is stored. `nodeOf` maps the group's
    /// replica ids to nodes.
    public func addGroup(_ group: GroupID, replica: ReplicaID, stateMachine: any GroupStateMachine,
                         nodeOf: [ReplicaID: NodeID], bootstrapVoters: [ReplicaID], seedSnapshot: String? = nil) throws(StorageError) {
        var state: PersistedState
        var snapIndex: LogIndex = 0
        if let recovered = try writer.withWAL({ wal throws(StorageError) in wal.recovered[group] }) {
            state = PersistedState(hardState: recovered.hardState, entries: recovered.entries)
            if let path = try newestSnapshot(of: group) {
                let reader = try SnapshotReader(path: path)
                do {
                    try stateMachine.restore(from: { () throws(StorageError) -> [UInt8]? in try reader.nextChunk() })
                } catch {
                    throw StorageError(path: path, reason: "cannot restore the state machine: \(error)")
                }
                state.snapshot = Snapshot(metadata: reader.metadata, data: [])
                snapIndex = reader.metadata.index
            }
        } else if bootstrapVoters.isEmpty {
            // A replica joining an existing group: empty until the leader sends it the log or
            // a snapshot.
            state = PersistedState()
        } else if let seedSnapshot {
            // A group founded from restored state: its log starts as a snapshot of the seed's
            // state at the seed's index, committed at term 1 with the founding voters as its
            // configuration, identical on every founding replica (as `.bootstrap` is).
            let meta = try installSeed(seedSnapshot, group: group, voters: bootstrapVoters, into: stateMachine)
            state = PersistedState(hardState: HardState(term: 1, vote: 0, commit: meta.index), snapshot: Snapshot(metadata: meta, data: []))
            let hs = state.hardState
            try writer.withWAL { wal throws(StorageError) in
                try wal.append([.hardState(group: group, state: hs), .installedSnapshot(group: group, index: meta.index)])
            }
            snapIndex = meta.index
        } else {
            state = .bootstrap(voters: bootstrapVoters)
            let boot = state
            try writer.withWAL { wal throws(StorageError) in
                try wal.append([.entries(group: group, entries: boot.entries), .hardState(group: group, state: boot.hardState)])
            }
        }
        var s = settings.raft
        s.id = replica
        let core = RaftReplica(settings: s, state: state, randomSeed: UInt64(truncatingIfNeeded: monotonicNanos()) ^ group)
        let g = HostedGroup(id: group, core: core, stateMachine: stateMachine, nodeOf: nodeOf, lastSnapshotIndex: snapIndex)
        g.wasMember = core.configuration.members.contains(replica)
        g.writtenHardState = state.hardState
        groups[group] = g
    }

    /// Writes the state of the snapshot file `seed` (any group's, any header) as `group`'s
    /// snapshot at the seed's index (at least the voters' bootstrap entries), term 1, with
    /// `voters` as its configuration, and restores `stateMachine` from it: one pass, each chunk
    /// inflated for the state machine and copied still compressed into the group's file.
    private func installSeed(_ seed: String, group: GroupID, voters: [ReplicaID],
                             into stateMachine: any GroupStateMachine) throws(StorageError) -> SnapshotMetadata {
        let source = try SnapshotReader(path: seed)
        let meta = SnapshotMetadata(index: max(source.metadata.index, LogIndex(voters.count)), term: 1,
                                    configuration: Configuration(voters: Set(voters)))
        let w = try SnapshotWriter(directory: snapshotDirectory, group: group, metadata: meta, compressionLevel: settings.snapshotCompressionLevel)
        let next = { () throws(StorageError) -> [UInt8]? in
            guard let chunk = try source.nextChunk() else { return nil }
            try w.writeFrame(source.lastFrame, rawCount: chunk.count)
            return chunk
        }
        do {
            try stateMachine.restore(from: next)
            while try next() != nil {}
            try w.finish()
        } catch {
            w.abort()
            throw error as? StorageError ?? StorageError(path: seed, reason: "cannot restore the state machine: \(error)")
        }
        return meta
    }

    /// The replica id this node uses in `group`, as recorded when the replica was created
    /// by a leader's message (nil for bootstrap replicas, whose id is the node id).
    public func storedReplicaID(of group: GroupID) -> ReplicaID? {
        guard let f = try? DurableFile(path: replicaFile(group), mode: .readOnly), let bytes = try? f.readAll() else { return nil }
        return UInt64(String(decoding: bytes, as: UTF8.self).split(separator: "\n").first ?? "").map(ReplicaID.init(rawValue:))
    }

    /// The snapshot folder: every file name in it is made there.
    var snapshots: SnapshotDirectory { SnapshotDirectory(path: snapshotDirectory) }

    func replicaFile(_ group: GroupID) -> String { snapshots.replicaFile(group) }

    func newestSnapshot(of group: GroupID) throws(StorageError) -> String? { try snapshots.newest(of: group) }

    // MARK: - Running

    public func start() {
        // Set up before `running`: once it is set, a pass may run on the executor's thread at
        // any moment (inputs that came earlier wait in the mailbox for the pass queued below).
        for g in groups.values { publishStatus(g) }
        writer.start()
        nextTick = settings.clock() + Double(settings.tickMillis) / 1000
        running.store(true, ordering: .sequentiallyConsistent)
        if let executor {
            cancelTicks = executor.repeatEvery(milliseconds: settings.tickMillis) { [self] in runPass() }
            executor.execute { [self] in runPass() }
        } else {
            Thread.detach(name: "raft-host") { [self] in loop() }
        }
    }

    public func stop() {
        guard running.exchange(false, ordering: .sequentiallyConsistent) else { return }
        if let executor {
            cancelTicks?()
            // A pass running now finishes before this returns (unless this is that thread);
            // later ones see `running` false. Waiting needs no task on the executor.
            if !executor.inExecutor { passLock.withLock { _ in } }
        } else {
            wake.signal()
            stopped.wait()
        }
        writer.stop()
    }

    private func submit(_ input: Input) {
        let first = mailbox.withLock { box in
            box.append(input)
            return box.count == 1
        }
        guard first else { return }
        if let executor {
            executor.execute { [self] in runPass() }
        } else {
            wake.signal()
        }
    }

    // MARK: - Inputs (any thread)

    public func receive(_ batch: [(group: GroupID, message: Message)]) { submit(.messages(batch)) }

    /// Proposes `payload` to `group`; completes with the state machine's result once applied
    /// here, or with an error (not the leader, timeout after `timeoutMillis`, by default the
    /// host's `requestTimeoutMillis`).
    public func propose(_ group: GroupID, _ payload: [UInt8], timeoutMillis: Int64? = nil, completion: @escaping Completion) {
        let deadline = settings.clock() + Double(timeoutMillis ?? Int64(settings.requestTimeoutMillis)) / 1000
        submit(.propose(group, payload, deadline: deadline, completion))
    }

    /// Runs `body` against the group's state machine once a linearizable read is confirmed
    /// (ReadIndex) and applied here.
    public func read(_ group: GroupID, _ body: @escaping ReadBody, completion: @escaping Completion) {
        submit(.read(group, body, completion))
    }

    public func transferLeadership(_ group: GroupID, to replica: ReplicaID) { submit(.transferLeadership(group, replica)) }

    /// Proposes a membership change of `group`; completes once the leader accepted it into
    /// its log (the caller watches the configuration for the outcome).
    public func proposeConfChange(_ group: GroupID, _ change: ConfChange, completion: @escaping Completion) {
        submit(.confChange(group, change, completion))
    }

    /// A snapshot file received and verified by the transport for `message` (which carries
    /// no data); the host moves it into place and hands the message to the group.
    public func receiveSnapshot(group: GroupID, message: Message, file: String) {
        submit(.snapshotReceived(group, message, file))
    }

    /// Hands leadership of `group` to `replica` if this replica leads and `replica` has every
    /// entry right now, so the hand-over is immediate and never waits on a lagging replica.
    public func transferLeadershipIfCaughtUp(_ group: GroupID, to replica: ReplicaID) {
        call { host in
            guard let g = host.groups[group], g.core.role == .leader, g.core.leadTransferee == 0,
                  g.core.matchIndex(of: replica) == g.core.lastIndex else { return }
            g.core.transferLeadership(to: replica)
        }
    }

    /// Hands every leadership this node holds to another voter of the group that answered within
    /// an election timeout, the most caught-up one (a lagging one is caught up first, see
    /// `RaftReplica.transferLeadership`), for a graceful stop. A voter that stopped answering
    /// (a node stopped just before) is passed over.
    public func transferLeadershipsAway() {
        call { host in
            host.refusesLeadership = true
            for gid in host.groups.keys.sorted() {
                let g = host.groups[gid]!
                guard g.core.role == .leader, g.core.leadTransferee == 0 else { continue }
                let others = g.core.configuration.voters.subtracting([g.replica]).filter { g.core.isRecentlyActive($0) }.sorted()
                guard let target = others.max(by: { (g.core.matchIndex(of: $0) ?? 0) < (g.core.matchIndex(of: $1) ?? 0) }) else { continue }
                g.core.transferLeadership(to: target)
            }
        }
    }

    /// Runs `body` on the host thread.
    public func call(_ body: @escaping @Sendable (RaftHost) -> Void) { submit(.call(body)) }

    /// The latest status of every hosted replica (updated by the host thread).
    public func status() -> [GroupStatus] { statusBox.withLock { Array($0.values) }.sorted { $0.group < $1.group } }

    public func status(of group: GroupID) -> GroupStatus? { statusBox.withLock { $0[group] } }

    func forgetStatus(_ group: GroupID) { statusBox.withLock { $0[group] = nil } }

    /// Counts of the host's work (rounds, readies, messages), as of its last tick.
    public func activitySnapshot() -> HostActivity { activityBox.withLock { $0 } }

    /// Hands a batch of Raft messages for one node to the transport.
    func send(_ batch: [(group: GroupID, message: Message)], to node: NodeID) {
        activity.sent(batch)
        transport.send(batch, to: node)
    }

    /// The host's logger (`HostSettings.logger`).
    public var logger: Logger { settings.logger }

    /// Logs one event of group `gid` (its id as `group` metadata).
    func log(_ level: Logger.Level, _ gid: GroupID, _ message: @autoclosure () -> Logger.Message, _ metadata: Logger.Metadata = [:]) {
        var all = metadata
        all["group"] = .stringConvertible(gid)
        settings.logger.log(level: level, message(), metadata: all)
    }

    // MARK: - The loop

    /// The host's own thread: passes until stopped, sleeping while there is nothing to do.
    private func loop() {
        while running.load(ordering: .sequentiallyConsistent) {
            if !pass() {
                let wait = max(0, nextTick - settings.clock())
                _ = wake.wait(timeout: .now() + .nanoseconds(Int(wait * 1e9)))
            }
        }
        stopped.signal()
    }

    /// Executor mode: one pass, and another one queued behind the executor's other work
    /// while there is more to do. Inputs that reach an empty mailbox queue their own pass;
    /// inputs a pass left behind (`maxInputsPerIteration`) are queued for here.
    private func runPass() {
        let (more, leftBehind) = passLock.withLock { _ -> (Bool, Bool) in
            guard running.load(ordering: .sequentiallyConsistent) else { return (false, false) }
            let more = pass()
            return (more, inputsLeftBehind)
        }
        if leftBehind || (more && !mailbox.withLock({ !$0.isEmpty })) {
            executor?.execute { [self] in runPass() }
        }
    }

    /// One iteration of the host loop: inputs, the tick when due, one round. Returns whether
    /// there is more to do right away.
    private func pass() -> Bool {
        // At most `maxInputsPerIteration` inputs, so a flood of them still leaves room for the
        // tick and a round in every pass; the rest wait for the next pass.
        let inputs = mailbox.withLock { box -> [Input] in
            guard box.count > settings.maxInputsPerIteration else {
                inputsLeftBehind = false
                defer { box = [] }
                return box
            }
            // Inputs arriving now find the mailbox non-empty and queue no pass of their own.
            inputsLeftBehind = true
            defer { box.removeFirst(settings.maxInputsPerIteration) }
            return Array(box.prefix(settings.maxInputsPerIteration))
        }
        for input in inputs { handle(input) }
        let t = settings.clock()
        if t >= nextTick {
            nextTick += Double(settings.tickMillis) / 1000
            if nextTick < t { nextTick = t + Double(settings.tickMillis) / 1000 }
            for g in groups.values { g.core.tick() }
            expireRequests(now: t)
            let a = activity
            activityBox.withLock { $0 = a }
            if rounds.inFlight.isEmpty && (!lazyRecords.isEmpty || !lazyGroups.isEmpty) {
                // Idle: write what was waiting for company.
                _ = writer.submit(takeLazyRecords())
            }
        }
        processReady()
        return mailbox.withLock { !$0.isEmpty } || groups.values.contains { $0.core.pollReady() }
    }

    private func handle(_ input: Input) {
        switch input {
        case .messages(let batch):
            activity.messagesReceived += UInt64(batch.count)
            for (gid, m) in batch {
                guard let g = groups[gid] ?? createGroup(gid, for: m) else { continue }
                if m.kind == .snapshot && !acceptSnapshotFile(g, m) { continue }
                // A node handing its leaderships away does not take any back: the leader that
                // asks would lose its leadership to a node about to stop.
                if m.kind == .timeoutNow && refusesLeadership { continue }
                g.core.step(m)
            }
        case .snapshotReceived(let gid, let m, let file):
            guard let g = groups[gid] ?? createGroup(gid, for: m), installReceivedFile(g, m, file) else {
                try? FileSystem.remove(file)
                return
            }
            g.core.step(m)
        case .confChange(let gid, let change, let completion):
            guard let g = groups[gid] else { return completion(.failure(.unknownGroup(gid))) }
            switch g.core.proposeConfChange(change) {
            case .success: completion(.success(g.core.lastIndex))
            case .failure(let e): completion(.failure(.dropped(e.description)))
            }
        case .propose(let gid, let payload, let deadline, let completion):
            guard let g = groups[gid] else { return completion(.failure(.unknownGroup(gid))) }
            guard g.core.role == .leader else { return completion(.failure(.notLeader(leaderNode(g)))) }
            let id = nextID
            nextID += 1
            switch g.core.propose(ProposalEnvelope(origin: node, id: id).wrap(payload)) {
            case .success:
                g.proposals[id] = (completion, deadline)
            case .failure(let e):
                completion(.failure(.dropped(e.description)))
            }
        case .read(let gid, let body, let completion):
            guard let g = groups[gid] else { return completion(.failure(.unknownGroup(gid))) }
            let id = nextID
            nextID += 1
            var ctx = BinaryWriter()
            ctx.write(id)
            switch g.core.readIndex(ctx.bytes) {
            case .success:
                g.reads[id] = (body, completion, settings.clock() + Double(settings.requestTimeoutMillis) / 1000, nil)
            case .failure:
                completion(.failure(.notLeader(leaderNode(g))))
            }
        case .transferLeadership(let gid, let replica):
            groups[gid]?.core.transferLeadership(to: replica)
        case .call(let body):
            body(self)
        case .durable(let seq):
            completeRounds(through: seq)
        }
    }

    func leaderNode(_ g: HostedGroup) -> NodeID? {
        g.core.leader == 0 ? nil : nodeOf(g, g.core.leader)
    }

    func nodeOf(_ g: HostedGroup, _ replica: ReplicaID) -> NodeID { g.nodeOf[replica] ?? ReplicaIDs.node(of: replica) }

    private func expireRequests(now t: Double) {
        for g in groups.values {
            for (id, p) in g.proposals where p.deadline <= t {
                g.proposals[id] = nil
                p.completion(.failure(.timeout))
            }
            for (id, r) in g.reads where r.deadline <= t {
                g.reads[id] = nil
                r.completion(.failure(.timeout))
            }
        }
    }

    func apply(_ g: HostedGroup, _ entries: [Entry]) {
        for e in entries { g.bytesSinceSnapshot += UInt64(e.data.count) }
        for e in entries where e.kind == .normal {
            guard let envelope = ProposalEnvelope(entryData: e.data) else { continue }
            let result = g.stateMachine.apply(index: e.index, data: Array(e.data[ProposalEnvelope.headerBytes...]))
            if envelope.origin == node, let p = g.proposals.removeValue(forKey: envelope.id) {
                p.completion(.success(result))
            }
        }
    }

    func serveReads(_ g: HostedGroup) {
        guard !g.reads.isEmpty else { return }
        let applied = g.core.watermarks().applied
        for (id, r) in g.reads {
            guard let index = r.index, index <= applied else { continue }
            g.reads[id] = nil
            r.completion(.success(r.body(g.stateMachine)))
        }
    }

    func publishStatus(_ g: HostedGroup) {
        // The sorted member lists change only with the configuration: computed once per change.
        if g.statusMembers == nil || g.statusMembers!.configIndex != g.core.configIndex {
            let before = g.statusMembers
            g.statusMembers = (g.core.configIndex, g.core.configuration.voters.sorted(), g.core.configuration.learners.sorted())
            if let before, !before.voters.isEmpty, before.voters != g.statusMembers!.voters || before.learners != g.statusMembers!.learners {
                log(.info, g.id, "group \(g.id): configuration changed at index \(g.core.configIndex)",
                    ["voters": "\(g.statusMembers!.voters.map(\.rawValue))", "learners": "\(g.statusMembers!.learners.map(\.rawValue))",
                     "index": .stringConvertible(g.core.configIndex.rawValue)])
            }
        }
        let w = g.core.watermarks()
        let st = GroupStatus(group: g.id, replica: g.replica, role: g.core.role, leaderNode: leaderNode(g), term: g.core.term,
                             commitIndex: w.commit, appliedIndex: w.applied, lastIndex: w.last,
                             voters: g.statusMembers!.voters, learners: g.statusMembers!.learners)
        statusBox.withLock { $0[g.id] = st }
    }
}


extension RaftHost {
    /// Runs `body` against the group's state machine now, without confirming leadership:
    /// a possibly stale read, for connections that asked for one (READONLY).
    public func readLocal(_ group: GroupID, _ body: @escaping ReadBody, completion: @escaping Completion) {
        call { host in
            guard let g = host.groups[group] else { return completion(.failure(.unknownGroup(group))) }
            completion(.success(body(g.stateMachine)))
        }
    }

    /// While this replica leads `group`: how many of the other replicas (voters and learners)
    /// hold the log up to `index` (nil: the commit index), as their acknowledgements show, with
    /// the index counted to. Nil when it does not lead. Redis's WAIT counts replicas this way.
    public func replication(of group: GroupID, through index: LogIndex? = nil,
                            completion: @escaping @Sendable ((index: LogIndex, holding: Int)?) -> Void) {
        call { host in
            guard let g = host.groups[group], g.core.role == .leader else { return completion(nil) }
            let target = index ?? g.core.watermarks().commit
            let members = g.core.configuration.voters.union(g.core.configuration.learners).subtracting([g.replica])
            completion((target, members.filter { (g.core.matchIndex(of: $0) ?? 0) >= target }.count))
        }
    }
}

// MARK: - Typed requests

extension RaftHost {
    /// `propose`, for a group whose state machine's `apply` returns `R`: the completion gets
    /// that result, typed. A state machine of another result type fails the request with
    /// `.outcomeUnknown` (the entry was applied), which is a programming error.
    public func propose<R: Sendable>(_ group: GroupID, _ payload: [UInt8], timeoutMillis: Int64? = nil, returning: R.Type,
                                     completion: @escaping @Sendable (Result<R, HostError>) -> Void) {
        propose(group, payload, timeoutMillis: timeoutMillis) { result in
            // A result of another type came from an applied entry: say so, never "not executed".
            completion(Self.typed(result, R.self, group, mismatch: HostError.outcomeUnknown))
        }
    }

    /// `read` (or, when `local`, `readLocal`), with `body` run on the group's state machine as
    /// an `M` and its `R` result typed. A state machine of another type fails the read
    /// (`.dropped`), which is a programming error.
    public func read<M: GroupStateMachine & SendableMetatype, R: Sendable>(_ group: GroupID, on machine: M.Type, local: Bool = false,
                                                        _ body: @escaping @Sendable (M) -> R,
                                                        completion: @escaping @Sendable (Result<R, HostError>) -> Void) {
        let run: ReadBody = { sm in (sm as? M).map(body) }
        let done: Completion = { result in completion(Self.typed(result, R.self, group, mismatch: HostError.dropped)) }
        if local { readLocal(group, run, completion: done) } else { read(group, run, completion: done) }
    }

    /// `read`, with `body` also given the index the group has applied when it runs: a state
    /// captured in `body` is the state at exactly that index, and that index is at least the
    /// read index the leader confirmed after the read was asked for.
    public func readAtApplied<M: GroupStateMachine & SendableMetatype, R: Sendable>(_ group: GroupID, on machine: M.Type,
                                                                 _ body: @escaping @Sendable (M, LogIndex) -> R,
                                                                 completion: @escaping @Sendable (Result<R, HostError>) -> Void) {
        // The body runs on the host's thread, inside the pass that serves the read, after the
        // group's applied watermark advanced past what its state machine applied.
        let run: ReadBody = { [self] sm in
            guard let m = sm as? M, let g = groups[group] else { return Optional<R>.none }
            return body(m, g.core.watermarks().applied)
        }
        read(group, run) { result in completion(Self.typed(result, R.self, group, mismatch: HostError.dropped)) }
    }

    private static func typed<R>(_ result: Result<any Sendable, HostError>, _: R.Type, _ group: GroupID,
                                 mismatch: (String) -> HostError) -> Result<R, HostError> {
        result.flatMap { value in
            if let r = value as? R { return .success(r) }
            return .failure(mismatch("group \(group) answered \(type(of: value)), not \(R.self)"))
        }
    }
}
